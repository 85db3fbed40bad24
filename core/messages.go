package core

import "github.com/pymongoose-go/pymongoose-go/core/codec"

// HTTPMessage is the data of EvHTTPHdrs, EvHTTPMsg and EvWSOpen. It is
// defined in codec, whose parser fills it; the alias keeps the event data
// types of the engine's API in one place for Go callers.
type HTTPMessage = codec.HTTPMessage

// WSMessage is the data of EvWSMsg. Data is valid only while the event is
// being dispatched.
type WSMessage struct {
	Data  []byte
	Flags byte // the raw first frame header byte (0x81 for a text message)
}

// MQTTMessage is the data of EvMQTTCmd and EvMQTTMsg. Slices are valid only
// while the event is being dispatched (API.md §9.4 for the fields).
type MQTTMessage struct {
	Topic, Data []byte
	ID          uint16
	Cmd, QoS    byte
	Ack         byte
	Props       []MQTTProp // MQTT 5 properties, in order
}

// MQTTProp is one MQTT 5 property (API.md §19.4).
type MQTTProp struct {
	ID       byte
	IV       uint32
	Key, Val []byte
}
