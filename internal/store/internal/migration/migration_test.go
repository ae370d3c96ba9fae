package migration

import (
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    []string // names, in order
		wantErr bool
	}{
		{"ordered by number, not name", fstest.MapFS{
			"m/0010_ten.sql": file("10"), "m/0002_two.sql": file("2"), "m/0001_one.sql": file("1"),
			"m/0003_three.sql": file("3"), "m/0004_four.sql": file("4"), "m/0005_five.sql": file("5"),
			"m/0006_six.sql": file("6"), "m/0007_seven.sql": file("7"), "m/0008_eight.sql": file("8"),
			"m/0009_nine.sql": file("9"), "m/README.md": file("ignored"),
		}, []string{"0001_one.sql", "0002_two.sql", "0003_three.sql", "0004_four.sql", "0005_five.sql",
			"0006_six.sql", "0007_seven.sql", "0008_eight.sql", "0009_nine.sql", "0010_ten.sql"}, false},
		{"gap", fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")}, nil, true},
		{"duplicate version", fstest.MapFS{"m/0001_a.sql": file(""), "m/1_b.sql": file("")}, nil, true},
		{"not starting at 1", fstest.MapFS{"m/0002_a.sql": file("")}, nil, true},
		{"no number", fstest.MapFS{"m/init.sql": file("")}, nil, true},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("")}, nil, true},
		{"empty", fstest.MapFS{"m/README.md": file("")}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Load(tc.fs, "m")
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Load = %v, want an error", ms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != len(tc.want) {
				t.Fatalf("got %d migrations, want %d", len(ms), len(tc.want))
			}
			for i, m := range ms {
				if m.Name != tc.want[i] || m.Version != i+1 {
					t.Errorf("migration %d = %s (version %d), want %s (version %d)", i, m.Name, m.Version, tc.want[i], i+1)
				}
			}
			if ms[0].SQL != "1" {
				t.Errorf("SQL of first migration = %q", ms[0].SQL)
			}
		})
	}
}
