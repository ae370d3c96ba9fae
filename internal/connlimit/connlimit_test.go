package connlimit

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address src (Linux routes all of 127/8 to lo).
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refusedFrom dials addr from src and reports whether the server refused the connection at once:
// the reset may reach the client before its connect returns (then the dial fails), or after
// (then the first read does).
func refusedFrom(t *testing.T, src, addr string) bool {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
			return true
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return refusedNow(c)
}

// refusedNow reports whether the server closed c without waiting (EOF or reset on read).
func refusedNow(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

func TestLimits(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Limits{Total: 5, PerClient: 2}, nil)
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := raw.Addr().String()
	wait := func() net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(2 * time.Second):
			t.Fatal("not accepted")
		}
		return nil
	}
	a1 := wait2(t, dialFrom(t, "127.0.0.2", addr), wait)
	_ = wait2(t, dialFrom(t, "127.0.0.2", addr), wait)
	// The third from 127.0.0.2 is over its per-client limit: closed at once.
	if !refusedFrom(t, "127.0.0.2", addr) {
		t.Fatal("third connection from one client was not refused")
	}
	// Others are still served, up to the total.
	for _, src := range []string{"127.0.0.3", "127.0.0.3", "127.0.0.4"} {
		wait2(t, dialFrom(t, src, addr), wait)
	}
	if !refusedFrom(t, "127.0.0.5", addr) {
		t.Fatal("connection over the total was not refused")
	}
	// The client may see the refusal before the listener has counted it: wait for the count.
	for deadline := time.Now().Add(2 * time.Second); l.Refused() != 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if l.Refused() != 2 || l.Open() != 5 {
		t.Errorf("refused %d open %d, want 2 and 5", l.Refused(), l.Open())
	}
	// Closing one frees its slot.
	a1.Close()
	a1.Close() // twice is harmless
	wait2(t, dialFrom(t, "127.0.0.2", addr), wait)
	if l.Open() != 5 {
		t.Errorf("open %d after a close and a new connection, want 5", l.Open())
	}
}

// wait2 returns the server side of client c once accepted, checking that it is open.
func wait2(t *testing.T, c net.Conn, wait func() net.Conn) net.Conn {
	t.Helper()
	s := wait()
	go io.Copy(io.Discard, s)
	return s
}

func TestDefaultTotal(t *testing.T) {
	if n := DefaultTotal(); n < 16 || n > 8192 {
		t.Errorf("DefaultTotal %d", n)
	}
}
