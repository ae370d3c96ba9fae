package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/jmespath-community/go-jmespath"
	"github.com/jmespath-community/go-jmespath/pkg/parsing"
)

// column is one column of `-o table` output: a header and a JSON field name.
type column struct{ header, field string }

// outputSpec is az's pair of output options: -o/--output and --query (a JMESPath expression,
// applied to the result before it is formatted, as in az).
type outputSpec struct {
	Format string
	Query  string
}

// outputFormats are az's (knack's) values of --output.
var outputFormats = []string{"json", "jsonc", "yaml", "yamlc", "table", "tsv", "none"}

// queryHelp is where az sends a user whose --query does not parse.
const queryHelp = "https://docs.microsoft.com/cli/azure/query-azure-cli"

// check refuses an unknown format or a query that does not parse, with az's words.
func (o *outputSpec) check() error {
	o.Format = strings.ToLower(o.Format)
	if !slices.Contains(outputFormats, o.Format) {
		return usageErrorf("'%s' is not a valid value for '--output'. Allowed values: %s.", o.Format, strings.Join(outputFormats, ", "))
	}
	if o.Query != "" {
		if _, err := jmespath.Compile(o.Query); err != nil {
			return usageErrorf("argument --query: invalid jmespath_type value: %q\n%v\nTo learn more about --query, please visit: '%s'", o.Query, err, queryHelp)
		}
	}
	return nil
}

// printOut writes v as az would with o: the query applied first, then the format. cols are the
// columns of -o table without a query (az's table transformer for the command).
func printOut(w io.Writer, o outputSpec, v any, cols []column) error {
	if err := o.check(); err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var result any
	if err := json.Unmarshal(data, &result); err != nil {
		return err
	}
	if o.Query != "" {
		q, _ := jmespath.Compile(o.Query) // checked above
		if result, err = q.Search(result); err != nil {
			return usageErrorf("argument --query: %v", err)
		}
	}
	switch o.Format {
	case "none":
		return nil
	case "json", "jsonc":
		text, err := formatJSON(result)
		if err != nil {
			return err
		}
		if o.Format == "jsonc" && isTerminal(w) {
			text = colorJSON(text)
		}
		_, err = io.WriteString(w, text)
		return err
	case "yaml", "yamlc":
		text, err := formatYAML(result)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, text)
		return err
	case "tsv":
		_, err := io.WriteString(w, formatTSV(result, queryKeyOrder(o.Query)))
		return err
	}
	if o.Query != "" {
		return autoTable(w, result, queryKeyOrder(o.Query))
	}
	return printTable(w, result, cols)
}

// formatJSON is Python's json.dumps(indent=2, sort_keys=True, ensure_ascii=False), as az.
func formatJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return "", err
	}
	return b.String(), nil
}

// formatYAML is PyYAML's safe_dump(default_flow_style=False), as az: block style, sorted keys,
// sequences not indented under their key.
func formatYAML(v any) (string, error) {
	data, err := yaml.MarshalWithOptions(integral(v), yaml.Indent(2), yaml.IndentSequence(false), yaml.UseSingleQuote(true))
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// queryKeyOrder is the order of the keys of the objects a query's multiselect hash makes
// ("[].{name:name, id:clientId}" → name, id): az keeps it in -o tsv and -o table (its query
// results are ordered dictionaries), where Go's maps forget it. Nil when the rows are not made
// by a multiselect hash.
func queryKeyOrder(query string) []string {
	if query == "" {
		return nil
	}
	node, err := jmespath.NewParser().Parse(query)
	if err != nil {
		return nil
	}
	for {
		switch node.NodeType {
		case parsing.ASTMultiSelectHash:
			var keys []string
			for _, kv := range node.Children {
				if k, ok := kv.Value.(string); ok {
					keys = append(keys, k)
				}
			}
			return keys
		case parsing.ASTProjection, parsing.ASTValueProjection, parsing.ASTFilterProjection, parsing.ASTPipe:
			if len(node.Children) < 2 {
				return nil
			}
			node = node.Children[1]
		case parsing.ASTSubexpression, parsing.ASTIndexExpression:
			if len(node.Children) == 0 {
				return nil
			}
			node = node.Children[len(node.Children)-1]
		default:
			return nil
		}
	}
}

// orderedKeys are m's keys: those of order first, in that order, then the rest sorted (az
// sorts the keys of objects a query did not make).
func orderedKeys(m map[string]any, order []string) []string {
	keys := make([]string, 0, len(m))
	for _, k := range order {
		if _, ok := m[k]; ok && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	rest := make([]string, 0, len(m)-len(keys))
	for k := range m {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// integral turns whole float64s (JSON numbers decode as float64) back into integers, which
// PyYAML prints without ".0", as they were in the JSON.
func integral(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return int64(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = integral(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = integral(e)
		}
		return out
	}
	return v
}

// formatTSV is knack's tab-separated output: one row per item of a list (or the one result),
// an object's values in key order, a nested list as its length, a nested object as nothing.
func formatTSV(result any, order []string) string {
	rows, ok := result.([]any)
	if !ok {
		rows = []any{result}
	}
	var b strings.Builder
	for _, row := range rows {
		switch r := row.(type) {
		case map[string]any:
			for i, k := range orderedKeys(r, order) {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvCell(r[k]))
			}
		case []any:
			for i, e := range r {
				if i > 0 {
					b.WriteByte('\t')
				}
				b.WriteString(tsvCell(e))
			}
		case bool:
			b.WriteString(strconv.FormatBool(r))
		default:
			b.WriteString(tsvCell(r))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// tsvCell is Python's str() of a value inside a row, as knack writes it (True, None).
func tsvCell(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		return strconv.Itoa(len(x))
	case map[string]any:
		return ""
	}
	return fmt.Sprint(v)
}

// printTable writes result (an object or a list of objects) as a table of cols.
func printTable(w io.Writer, result any, cols []column) error {
	rows, err := tableRows(result)
	if err != nil {
		return err
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.header
	}
	cells := make([][]string, len(rows))
	for j, r := range rows {
		cells[j] = make([]string, len(cols))
		for i, c := range cols {
			cells[j][i] = cell(lookup(r, c.field))
		}
	}
	return tabulate(w, heads, cells)
}

// tabulate writes a table as az does (Python's tabulate, format "simple"): each column as wide
// as its widest cell and at least its header plus two, a rule of dashes under each header, two
// spaces between columns, no trailing blanks.
func tabulate(w io.Writer, heads []string, rows [][]string) error {
	widths := make([]int, len(heads))
	for i, h := range heads {
		widths[i] = utf8.RuneCountInString(h) + 2
		for _, r := range rows {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		var l strings.Builder
		for i, c := range cells {
			if i > 0 {
				l.WriteString("  ")
			}
			l.WriteString(c)
			l.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(heads)
	rules := make([]string, len(heads))
	for i := range heads {
		rules[i] = strings.Repeat("-", widths[i])
	}
	line(rules)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func tableRows(result any) ([]map[string]any, error) {
	switch r := result.(type) {
	case map[string]any:
		return []map[string]any{r}, nil
	case []any:
		rows := make([]map[string]any, 0, len(r))
		for _, e := range r {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("cannot show this as a table")
			}
			rows = append(rows, m)
		}
		return rows, nil
	}
	return nil, fmt.Errorf("cannot show this as a table")
}

// autoTable is az's table of a query's result: the scalar fields of each object (id, type and
// etag left out), headed by their names with the first letter capitalized; a list of scalars is
// one column, Result.
func autoTable(w io.Writer, result any, order []string) error {
	items, ok := result.([]any)
	if !ok {
		items = []any{result}
	}
	var heads []string
	var rows []map[string]string
	for _, it := range items {
		row := map[string]string{}
		if m, ok := it.(map[string]any); ok {
			for _, k := range orderedKeys(m, order) {
				v := m[k]
				if k == "id" || k == "type" || k == "etag" || v == nil {
					continue
				}
				if _, nested := v.(map[string]any); nested {
					continue
				}
				if _, nested := v.([]any); nested {
					continue
				}
				h := strings.ToUpper(k[:1]) + k[1:]
				if !slices.Contains(heads, h) {
					heads = append(heads, h)
				}
				row[h] = tsvCell(v)
			}
		} else {
			if !slices.Contains(heads, "Result") {
				heads = append(heads, "Result")
			}
			row["Result"] = tsvCell(it)
		}
		rows = append(rows, row)
	}
	if len(heads) == 0 {
		return nil
	}
	cells := make([][]string, len(rows))
	for j, r := range rows {
		cells[j] = make([]string, len(heads))
		for i, h := range heads {
			cells[j][i] = r[h]
		}
	}
	return tabulate(w, heads, cells)
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

// isTerminal reports whether w is a terminal: az colors jsonc only then.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// colorJSON colors indented JSON for a terminal: keys blue, strings green, numbers, true, false
// and null cyan (az's pygments colors differ in shade).
func colorJSON(text string) string {
	const (
		blue, green, cyan, reset = "\x1b[94m", "\x1b[32m", "\x1b[36m", "\x1b[39m"
	)
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := line[:len(line)-len(trimmed)]
		b.WriteString(indent)
		if strings.HasPrefix(trimmed, `"`) {
			if end := jsonStringEnd(trimmed); end > 0 && strings.HasPrefix(trimmed[end:], ": ") {
				b.WriteString(blue + trimmed[:end] + reset + ": ")
				trimmed = trimmed[end+2:]
			}
		}
		body, tail := trimmed, ""
		for _, suffix := range []string{",\n", "\n", ","} {
			if s, ok := strings.CutSuffix(trimmed, suffix); ok {
				body, tail = s, suffix
				break
			}
		}
		switch {
		case strings.HasPrefix(body, `"`):
			b.WriteString(green + body + reset)
		case body == "true" || body == "false" || body == "null" || (body != "" && (body[0] == '-' || body[0] >= '0' && body[0] <= '9')):
			b.WriteString(cyan + body + reset)
		default:
			b.WriteString(body)
		}
		b.WriteString(tail)
	}
	return b.String()
}

// jsonStringEnd is the index just past the JSON string s starts with (0 if none).
func jsonStringEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return 0
}
