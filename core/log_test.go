package core

import "testing"

func TestLogLevelAndSink(t *testing.T) {
	defer SetLogLevel(LogLevel())
	defer SetLogSink(nil)
	var got []string
	SetLogSink(func(level int, msg string) { got = append(got, msg) })
	SetLogLevel(LogNone)
	logf(LogError, "x %d", 1)
	SetLogLevel(LogInfo)
	logf(LogError, "e %d", 2)
	logf(LogInfo, "i")
	logf(LogDebug, "d")
	if LogLevel() != LogInfo || len(got) != 2 || got[0] != "e 2" || got[1] != "i" {
		t.Fatalf("level %d lines %q", LogLevel(), got)
	}
	SetLogSink(nil)
	logf(LogError, "dropped")
	if len(got) != 2 || LogEnabled(LogError) {
		t.Fatal("sink not removed")
	}
}
