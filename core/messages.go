package core

import "github.com/pymongoose-go/pymongoose-go/core/codec"

// HTTPMessage is the data of EvHTTPHdrs, EvHTTPMsg and EvWSOpen, the type
// codec's parser fills. The alias keeps the data type of every event in
// the engine's own API, beside the Dispatcher that hands them out.
type HTTPMessage = codec.HTTPMessage

// WSMessage is the data of EvWSMsg. Data is valid only while the event is
// being dispatched.
type WSMessage struct {
	Data  []byte
	Flags byte // the raw first frame header byte (0x81 for a text message)
}

// MQTTMessage is the data of EvMQTTCmd and EvMQTTMsg, defined in codec
// beside its parser (an alias for the reason HTTPMessage is one).
type MQTTMessage = codec.MQTTMessage
