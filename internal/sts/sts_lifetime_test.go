package sts

import (
	"strings"
	"testing"
	"time"
)

// A lifetime outside its range is adjusted, and the log says so (it was raised silently).
func TestLifetimeAdjustmentIsLogged(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AppTokenLifetime = time.Minute })
	if f.srv.appLifetime != 5*time.Minute {
		t.Fatalf("app lifetime %v", f.srv.appLifetime)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "application token lifetime adjusted") || !strings.Contains(logs, "requested=1m0s used=5m0s") {
		t.Errorf("no warning: %s", logs)
	}
	f = newFixture(t, func(c *Config) { c.AppTokenLifetime = 2 * time.Hour })
	if strings.Contains(f.logs.String(), "adjusted") {
		t.Errorf("warned about a lifetime in range: %s", f.logs.String())
	}
}
