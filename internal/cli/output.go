package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// column is one column of `-o table` output: a header and a JSON field name.
type column struct{ header, field string }

// printOut writes v as indented JSON, or as a table of the given columns when format is
// "table" (v is then an object or a list of objects).
func printOut(w io.Writer, format string, v any, cols []column) error {
	if format != "table" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rows []map[string]any
	if err := json.Unmarshal(data, &rows); err != nil {
		var one map[string]any
		if err := json.Unmarshal(data, &one); err != nil {
			return fmt.Errorf("cannot show this as a table")
		}
		rows = []map[string]any{one}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	heads := make([]string, len(cols))
	rules := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.header
		rules[i] = strings.Repeat("-", len(c.header))
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t"))
	fmt.Fprintln(tw, strings.Join(rules, "\t"))
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cell(lookup(r, c.field))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// lookup follows a dotted field path ("status.failureReason").
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e)
		}
		return strings.Join(parts, ",")
	default:
		data, _ := json.Marshal(x)
		return string(data)
	}
}
