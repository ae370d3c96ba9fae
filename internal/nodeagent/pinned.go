package nodeagent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/mint-id/mint/internal/proxy"
)

// A pinned tunnel (proxy.Pinner): each HTTP/1.1 tunnel the proxy's loop serves gets a
// connection of its own to the server for its life, as a bare TLS forwarder would. The request
// direction is unchanged (read and checked by the loop with net/http's ReadRequest, re-written
// here with the hop-by-hop headers dropped: nothing the server sees was not parsed as the server
// parses it). The answer direction is the server's bytes, copied as they come: the server is
// mint's own net/http, so its answers need no re-framing, and parsing each head
// (http.ReadResponse: a header map, a string per value) and writing it again was most of what
// the agent spent on an answer beyond the TLS. Only where the answer ends is followed
// (answerFramer), so that the tunnel serves one request at a time: an answer of the agent's own
// (400, 502) or a hand-over to the inner server then always follows the server's answers to the
// requests before it. The server reads one tunnel's requests on one connection, as it does for a
// direct client, instead of requests of every tunnel on whichever pooled connection was free.

// Pin (proxy.Pinner) returns a tunnel's forwarder; its connection is dialled at its first request.
func (f *forwarder) Pin() proxy.Pinned { return &pinnedTunnel{f: f} }

// pinnedTunnel is one tunnel's forwarder, used by the tunnel's goroutine only.
type pinnedTunnel struct {
	f  *forwarder
	c  *upstreamConn // nil until the first request, and after Idle or a failure
	fr answerFramer
}

var errAnswerOverrun = errors.New("the server sent bytes beyond its answer")

// Relay (proxy.Pinned) sends r on the tunnel's connection and copies the answer to w. A
// connection kept from an earlier request that fails before the first byte of an answer was
// closed by the server while idle: r is sent once more on a new one (the server never read it).
func (t *pinnedTunnel) Relay(r *http.Request, w *bufio.Writer) (*http.Response, bool) {
	body, own := readLeanBody(r)
	if own != nil {
		return own, false
	}
	for {
		fresh := t.c == nil
		if fresh {
			c, err := t.f.dialUpstream(r.Context())
			if err != nil {
				return t.f.badGateway(r, err), true
			}
			t.c = c
		}
		err := t.c.writeRequest(r, body)
		answered := false
		if err == nil {
			answered, err = t.copyAnswer(r, w)
			if err == nil {
				if t.fr.closing { // the server closes its connection: the client's follows
					t.Close()
					return nil, false
				}
				return nil, true
			}
		}
		t.Close()
		if answered {
			// Part of the answer is the client's already: end the tunnel, which cuts it short.
			t.f.log.Warn("proxy: answer from the mint server cut short", "host", r.Host, "err", err)
			return nil, false
		}
		if fresh || r.Context().Err() != nil {
			return t.f.badGateway(r, err), true
		}
	}
}

// copyAnswer copies the server's answer to r to w, each piece flushed as it comes but the
// last (the loop flushes it). answered: a byte of it arrived.
func (t *pinnedTunnel) copyAnswer(r *http.Request, w *bufio.Writer) (answered bool, err error) {
	t.fr.reset(r.Method == http.MethodHead)
	bp := copyBufferPool.Get().(*[]byte) // the pointer itself, so that Put allocates nothing
	defer copyBufferPool.Put(bp)
	buf := *bp
	for {
		n, rerr := t.c.conn.Read(buf)
		if n > 0 {
			answered = true
			used, done, ferr := t.fr.feed(buf[:n])
			if ferr != nil {
				return true, ferr
			}
			if _, err := w.Write(buf[:used]); err != nil {
				return true, err
			}
			if done {
				if used < n {
					return true, errAnswerOverrun
				}
				return true, nil
			}
			if err := w.Flush(); err != nil {
				return true, err
			}
		}
		if rerr != nil {
			if rerr == io.EOF && t.fr.untilEOF {
				return true, nil // an answer that ends with the connection (fr.closing is set)
			}
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return answered, rerr
		}
	}
}

// Idle (proxy.Pinned) lets the connection go while the tunnel waits for a request.
func (t *pinnedTunnel) Idle() { t.Close() }

// Close (proxy.Pinned) closes the tunnel's connection to the server.
func (t *pinnedTunnel) Close() {
	if t.c != nil {
		t.c.close()
		t.c = nil
	}
}

// answerFramer follows an HTTP/1.1 answer's framing in the bytes the server sends, to tell
// where the answer ends: the status line and the Content-Length, Transfer-Encoding and
// Connection fields of its head, interim 1xx heads, chunk sizes and trailers. It keeps nothing
// of the answer but a line split between two reads. It is as strict as net/http's own writer
// needs: anything else is an error, which ends the tunnel.
type answerFramer struct {
	headReq  bool // the request was HEAD: no body
	state    frameState
	line     []byte // a line split between two reads
	headLen  int    // bytes of the current head so far
	remain   int64  // of the body or the current chunk
	status   int
	length   int64 // Content-Length, -1: none
	chunked  bool
	closing  bool // the server closes the connection after the answer
	untilEOF bool // the body ends with the connection
}

type frameState uint8

const (
	frameStatus frameState = iota
	frameHeader
	frameBody
	frameChunkSize
	frameChunkData
	frameChunkEnd
	frameTrailer
	frameUntilEOF
	frameDone
)

// maxAnswerHead bounds an answer's head (and a chunk line, and a trailer section).
const maxAnswerHead = 64 << 10

func (a *answerFramer) reset(headReq bool) {
	*a = answerFramer{headReq: headReq, line: a.line[:0], length: -1}
}

// feed takes the next bytes of the answer: used of them belong to it; done, the answer ended
// with the last of those.
func (a *answerFramer) feed(p []byte) (used int, done bool, err error) {
	i := 0
	for i < len(p) {
		switch a.state {
		case frameBody, frameChunkData:
			n := int64(len(p) - i)
			if n > a.remain {
				n = a.remain
			}
			i += int(n)
			a.remain -= n
			if a.remain > 0 {
				continue
			}
			if a.state == frameBody {
				a.state = frameDone
				return i, true, nil
			}
			a.state = frameChunkEnd
		case frameUntilEOF:
			return len(p), false, nil
		case frameDone:
			return i, true, nil
		default:
			line, next, ok := a.nextLine(p, i)
			if !ok {
				if a.headLen += next - i; a.headLen > maxAnswerHead {
					return next, false, errors.New("an answer's head or chunk line is too long")
				}
				return next, false, nil
			}
			a.headLen += next - i
			i = next
			if a.headLen > maxAnswerHead {
				return i, false, errors.New("an answer's head or chunk line is too long")
			}
			if err := a.takeLine(line); err != nil {
				return i, false, err
			}
			if a.state == frameDone {
				return i, true, nil
			}
		}
	}
	return i, a.state == frameDone, nil
}

// nextLine returns the line that starts at p[i] (with what a.line holds before it) without its
// CRLF, and the index after it; ok false: p ends before the line does (kept in a.line).
func (a *answerFramer) nextLine(p []byte, i int) (line []byte, next int, ok bool) {
	j := bytes.IndexByte(p[i:], '\n')
	if j < 0 {
		if len(a.line)+len(p)-i <= maxAnswerHead {
			a.line = append(a.line, p[i:]...)
		}
		return nil, len(p), false
	}
	line = p[i : i+j]
	if len(a.line) > 0 {
		a.line = append(a.line, line...)
		line = a.line
		a.line = a.line[:0]
	}
	return bytes.TrimSuffix(line, []byte("\r")), i + j + 1, true
}

// takeLine takes one line of a head, a chunk size, a chunk's end or a trailer.
func (a *answerFramer) takeLine(line []byte) error {
	switch a.state {
	case frameStatus:
		// "HTTP/1.1 200 OK": the version and a three-digit code.
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return fmt.Errorf("an answer's status line %.40q", line)
		}
		code, err := strconv.Atoi(string(line[9:12]))
		if err != nil || code < 100 || line[9] == '+' || line[9] == '-' {
			return fmt.Errorf("an answer's status line %.40q", line)
		}
		a.status, a.state = code, frameHeader
	case frameHeader:
		if len(line) == 0 {
			return a.endHead()
		}
		return a.takeField(line)
	case frameChunkSize:
		if k := bytes.IndexByte(line, ';'); k >= 0 {
			line = line[:k]
		}
		line = bytes.TrimRight(line, " \t")
		n, err := strconv.ParseUint(string(line), 16, 62)
		if err != nil || len(line) == 0 {
			return fmt.Errorf("a chunk size %.40q", line)
		}
		a.headLen = 0
		if n == 0 {
			a.state = frameTrailer
			return nil
		}
		a.remain, a.state = int64(n), frameChunkData
	case frameChunkEnd:
		if len(line) != 0 {
			return errors.New("a chunk not ended by CRLF")
		}
		a.headLen, a.state = 0, frameChunkSize
	case frameTrailer:
		if len(line) == 0 {
			a.state = frameDone
		}
	}
	return nil
}

// takeField takes a header field of the answer's head: only the framing ones matter.
func (a *answerFramer) takeField(line []byte) error {
	k := bytes.IndexByte(line, ':')
	if k <= 0 || line[0] == ' ' || line[0] == '\t' {
		return fmt.Errorf("an answer's header line %.40q", line)
	}
	name, value := line[:k], bytes.Trim(line[k+1:], " \t")
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseUint(string(value), 10, 62)
		if err != nil || value[0] == '+' || (a.length >= 0 && int64(n) != a.length) {
			return fmt.Errorf("an answer's Content-Length %.40q", value)
		}
		a.length = int64(n)
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		if !bytes.EqualFold(value, []byte("chunked")) || a.chunked {
			return fmt.Errorf("an answer's Transfer-Encoding %.40q", value)
		}
		a.chunked = true
	case bytes.EqualFold(name, []byte("Connection")):
		for tok := range bytes.SplitSeq(value, []byte(",")) {
			if bytes.EqualFold(bytes.Trim(tok, " \t"), []byte("close")) {
				a.closing = true
			}
		}
	}
	return nil
}

// endHead decides, at the end of a head, how the answer's body is framed.
func (a *answerFramer) endHead() error {
	a.headLen = 0
	switch {
	case a.status == http.StatusSwitchingProtocols:
		return errors.New("an answer switching protocols to a request that asked for none")
	case a.status < 200: // an interim answer; the final one follows
		closing := a.closing
		a.reset(a.headReq)
		a.closing = closing
		return nil
	case a.chunked && a.length >= 0:
		return errors.New("an answer with both Content-Length and Transfer-Encoding")
	case a.headReq || a.status == http.StatusNoContent || a.status == http.StatusNotModified:
		a.state = frameDone
	case a.chunked:
		a.state = frameChunkSize
	case a.length == 0:
		a.state = frameDone
	case a.length > 0:
		a.remain, a.state = a.length, frameBody
	default:
		a.untilEOF, a.closing, a.state = true, true, frameUntilEOF
	}
	return nil
}
