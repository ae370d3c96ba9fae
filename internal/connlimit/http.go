package connlimit

import (
	"net/http"
	"time"
)

// Timeouts for every HTTP server mint runs. ReadTimeout covers a whole request, headers and body:
// ReadHeaderTimeout alone let a client that sends its body a byte every few seconds hold a
// connection forever.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// HTTP2 bounds what one HTTP/2 connection may hold: streams, buffers, and how long a silent peer
// keeps it (a ping after 30 s without frames, closed 15 s later without an answer).
func HTTP2() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxConcurrentStreams:          100,
		MaxReadFrameSize:              1 << 20,
		MaxReceiveBufferPerConnection: 1 << 20,
		MaxReceiveBufferPerStream:     256 << 10,
		MaxDecoderHeaderTableSize:     4096,
		SendPingTimeout:               30 * time.Second,
		PingTimeout:                   15 * time.Second,
		WriteByteTimeout:              30 * time.Second,
	}
}

// Apply sets the timeouts, header limit and HTTP/2 bounds on srv where srv leaves them zero;
// readTimeout replaces ReadTimeout when positive.
func Apply(srv *http.Server, readTimeout time.Duration) {
	if readTimeout <= 0 {
		readTimeout = ReadTimeout
	}
	if srv.ReadHeaderTimeout == 0 {
		srv.ReadHeaderTimeout = ReadHeaderTimeout
	}
	if srv.ReadHeaderTimeout > readTimeout {
		srv.ReadHeaderTimeout = readTimeout
	}
	if srv.ReadTimeout == 0 {
		srv.ReadTimeout = readTimeout
	}
	if srv.IdleTimeout == 0 {
		srv.IdleTimeout = IdleTimeout
	}
	if srv.MaxHeaderBytes == 0 {
		srv.MaxHeaderBytes = MaxHeaderBytes
	}
	if srv.HTTP2 == nil {
		srv.HTTP2 = HTTP2()
	}
}
