package server

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/mint-id/mint/internal/bench"
)

func TestScratchVaultProfile(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	s, err := New(ctx, Config{DataDir: dir, Addr: "127.0.0.1:0", CreateKEK: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ctx)
	env, err := s.DevEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range env {
		m[e.Name] = e.Value
	}
	m["MINT_CA_FILE"] = dir + "/ca.pem"
	f, _ := os.Create("/tmp/scratch/cpu.out")
	pprof.StartCPUProfile(f)
	vf, err := bench.VaultGetRate(ctx, m, 5*time.Second, 8)
	pprof.StopCPUProfile()
	t.Logf("%+v %v", vf, err)
}
