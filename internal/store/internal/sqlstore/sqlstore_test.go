package sqlstore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// recorder is a Tx that records the statements run on it.
type recorder struct {
	Tx
	queries []string
	args    [][]any
}

func (r *recorder) Exec(_ context.Context, query string, args ...any) (int64, error) {
	r.queries = append(r.queries, query)
	r.args = append(r.args, slices.Clone(args)) // callers may reuse args once Exec returns
	return 1, nil
}

func TestInsertRowsBatchesUnderTheParameterBound(t *testing.T) {
	const cols, n = 20, 3500 // 1,500 rows of 20 parameters a statement
	var rec recorder
	err := insertRows(context.Background(), &rec, `INSERT INTO t (a)`, cols, n, func(i int) []any {
		row := make([]any, cols)
		row[0] = i
		return row
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.queries) != 3 {
		t.Fatalf("%d statements, want 3", len(rec.queries))
	}
	rows := 0
	for i, q := range rec.queries {
		if len(rec.args[i]) > 30000 || len(rec.args[i])%cols != 0 {
			t.Fatalf("statement %d has %d arguments", i, len(rec.args[i]))
		}
		if got, want := strings.Count(q, "("), 1+len(rec.args[i])/cols; got != want {
			t.Fatalf("statement %d has %d parenthesised groups, want %d", i, got, want)
		}
		if first := rec.args[i][0]; first != rows {
			t.Fatalf("statement %d starts at row %v, want %d", i, first, rows)
		}
		rows += len(rec.args[i]) / cols
	}
	if rows != n {
		t.Fatalf("%d rows inserted, want %d", rows, n)
	}
	if !strings.HasSuffix(rec.queries[2], "($9981, $9982, $9983, $9984, $9985, $9986, $9987, $9988, $9989, $9990, $9991, $9992, $9993, $9994, $9995, $9996, $9997, $9998, $9999, $10000)") {
		t.Fatalf("last statement ends %q", rec.queries[2][len(rec.queries[2])-80:])
	}
}

// SQLite's statements number no parameter: "?" each, in order, since it looks "$N" up by name.
func TestInsertRowsAnonymousParameters(t *testing.T) {
	var rec recorder
	if err := insertRowsAs(context.Background(), &rec, true, `INSERT INTO t (a, b)`, 2, 3, func(i int) []any { return []any{i, i} }); err != nil {
		t.Fatal(err)
	}
	if len(rec.queries) != 1 || rec.queries[0] != `INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)` || len(rec.args[0]) != 6 {
		t.Fatalf("statements %q with %v", rec.queries, rec.args)
	}
}

func TestTimeColumn(t *testing.T) {
	want := time.Date(2026, 12, 6, 10, 0, 0, 123456000, time.UTC)
	for _, src := range []any{want.UnixMicro(), want.Add(789).In(time.FixedZone("x", 3600))} {
		var got time.Time
		if err := tm(&got).Scan(src); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v; want %v UTC", src, got, err, want)
		}
	}
	got := time.Now()
	if err := tm(&got).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(nil) = %v, %v; want the zero time", got, err)
	}
	if err := tm(&got).Scan("2026-12-06"); err == nil {
		t.Error("Scan of a string succeeded")
	}
	if err := tm(&got).ScanTimestamptz(pgtype.Timestamptz{Time: want.Add(789), Valid: true}); err != nil || !got.Equal(want) {
		t.Errorf("ScanTimestamptz = %v, %v; want %v", got, err, want)
	}
	if err := tm(&got).ScanTimestamptz(pgtype.Timestamptz{}); err != nil || !got.IsZero() {
		t.Errorf("ScanTimestamptz(NULL) = %v, %v; want the zero time", got, err)
	}
	if err := tm(&got).ScanTimestamptz(pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}); err == nil {
		t.Error("ScanTimestamptz of infinity succeeded")
	}
}

func TestDeletePrincipalsBatches(t *testing.T) {
	ids := make([]string, 1201)
	for i := range ids {
		ids[i] = "oid"
	}
	var rec recorder
	if err := deletePrincipals(context.Background(), &rec, ids); err != nil {
		t.Fatal(err)
	}
	if len(rec.queries) != 3 || len(rec.args[0]) != 500 || len(rec.args[2]) != 201 {
		t.Fatalf("%d statements (%d, ...) for 1201 ids, want 3 of at most 500", len(rec.queries), len(rec.args[0]))
	}
	if err := deletePrincipals(context.Background(), &rec, nil); err != nil || len(rec.queries) != 3 {
		t.Fatalf("no ids ran a statement: %v", err)
	}
}

// The sign-in log's batches, of any size, are written with a handful of statement texts (kept
// prepared), each under the parameter bounds, in order, every row once.
func TestChunkedInsertUsesFixedTexts(t *testing.T) {
	ins := &chunkedInsert{insert: `INSERT INTO t (a, b)`, cols: 2, anonymous: true}
	texts := map[string]bool{}
	for n := range 500 {
		var rec recorder
		if err := ins.run(context.Background(), &rec, n, func(args []any, i int) []any { return append(args, i, i) }); err != nil {
			t.Fatal(err)
		}
		next := 0
		for k, q := range rec.queries {
			texts[q] = true
			if rows := strings.Count(q, "("); rows-1 != len(rec.args[k])/2 {
				t.Fatalf("n=%d: statement %d has %d groups for %d arguments", n, k, rows-1, len(rec.args[k]))
			}
			for j := 0; j < len(rec.args[k]); j += 2 {
				if rec.args[k][j] != next {
					t.Fatalf("n=%d: row %v where %d was due", n, rec.args[k][j], next)
				}
				next++
			}
		}
		if next != n || len(rec.queries) > n/maxChunkRows+6 {
			t.Fatalf("n=%d: %d rows in %d statements", n, next, len(rec.queries))
		}
	}
	if len(texts) != 7 {
		t.Errorf("%d statement texts, want 7 (64 rows and the powers of two below)", len(texts))
	}
}
