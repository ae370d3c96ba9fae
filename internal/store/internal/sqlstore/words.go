package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mint-id/mint/internal/store"
	"github.com/mint-id/mint/internal/store/internal/column"
)

// Graph's $search over display names, answered from indexes (migration 0014): each principal,
// user and group has one row per word of its display name (store.IndexedWords) in its table's
// word table, written in the transaction that writes the name and deleted with the object (ON
// DELETE CASCADE). A search word is a prefix, so a range of the (tenant_key, word) index; a
// $search is a set of object ids built from such ranges (and from prefix ranges of the other
// searched keys) with INTERSECT for AND and UNION for OR, joined to the table and read in list
// order. The cost is that of the ids the search selects, not of the tenant.

// wordsTable is the word table of a directory table.
func wordsTable(table string) string {
	switch table {
	case "principals":
		return "principal_words"
	case "users":
		return "user_words"
	case "groups":
		return "group_words"
	}
	panic("sqlstore: no word table for " + table)
}

// putWords writes the words of displayName for the object (table's row objectID, of the tenant
// tenantKey) in tx, replacing those it had when replace.
func putWords(ctx context.Context, tx Tx, table, objectID, tenantKey, displayName string, replace bool) error {
	words := wordsTable(table)
	if replace {
		if _, err := tx.Exec(ctx, `DELETE FROM `+words+` WHERE object_id = $1`, objectID); err != nil {
			return fmt.Errorf("delete words: %w", err)
		}
	}
	ws := store.IndexedWords(displayName)
	if len(ws) == 0 {
		return nil
	}
	args := []any{objectID, tenantKey}
	rows := make([]string, len(ws))
	for i, w := range ws {
		args = append(args, w)
		rows[i] = fmt.Sprintf("($1, $2, $%d)", len(args))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+words+` (object_id, tenant_key, word) VALUES `+strings.Join(rows, ", "), args...); err != nil {
		return fmt.Errorf("insert words: %w", err)
	}
	return nil
}

// afterMigration is Go that completes a migration in its transaction, by version: what SQL
// cannot compute the same way as the store's Go does.
var afterMigration = map[int]func(ctx context.Context, tx Tx) error{
	14: fillDirectorySearch,
}

// fillDirectorySearch fills migration 0014's mail keys and word tables for the objects that
// existed before it, a thousand at a time in object id order.
func fillDirectorySearch(ctx context.Context, tx Tx) error {
	type row struct{ id, tenantKey, name, mail string }
	for _, table := range []string{"principals", "users", "groups"} {
		cols := `object_id, tenant_key, display_name, mail_nickname`
		if table == "principals" {
			cols = `object_id, tenant_key, display_name, ''`
		}
		after := ""
		for {
			// Read a batch whole before writing: a connection runs one statement at a time.
			rs, err := all(ctx, tx, func(sc scanner) (row, error) {
				var r row
				err := sc.Scan(&r.id, &r.tenantKey, &r.name, &r.mail)
				return r, err
			}, `SELECT `+cols+` FROM `+table+` WHERE object_id > $1 ORDER BY object_id LIMIT 1000`, after)
			if err != nil {
				return fmt.Errorf("fill %s words: %w", table, err)
			}
			// The batch's words in multi-row INSERTs: a store upgraded with a million identities
			// writes three million rows here.
			var words [][3]string
			for _, r := range rs {
				for _, w := range store.IndexedWords(r.name) {
					words = append(words, [3]string{r.id, r.tenantKey, w})
				}
				if table != "principals" && r.mail != "" {
					if _, err := tx.Exec(ctx, `UPDATE `+table+` SET mail_key = $1 WHERE object_id = $2`, column.Key(r.mail), r.id); err != nil {
						return fmt.Errorf("fill %s mail keys: %w", table, err)
					}
				}
			}
			// 200 rows a statement: SQLite looks each $N up in a list, so a statement of
			// insertRows' 30,000 parameters would cost it quadratically.
			for chunk := range slices.Chunk(words, 200) {
				err = insertRows(ctx, tx, `INSERT INTO `+wordsTable(table)+` (object_id, tenant_key, word)`, 3, len(chunk), func(i int) []any {
					return []any{chunk[i][0], chunk[i][1], chunk[i][2]}
				})
				if err != nil {
					return fmt.Errorf("fill %s words: %w", table, err)
				}
			}
			if len(rs) < 1000 {
				break
			}
			after = rs[len(rs)-1].id
		}
	}
	return nil
}

// searchSet is the SQL of the set of object ids (one column, id) of table's rows in the tenant
// of $1 that t selects, its parameters added to w. Words and prefixes are printable ASCII (the
// caller's promise), so that their byte ranges are those of the folded keys.
func searchSet(t *store.SearchTerm, table string, w *where) (string, error) {
	switch t.Op {
	case "AND", "OR":
		l, err := searchSet(t.Left, table, w)
		if err != nil {
			return "", err
		}
		r, err := searchSet(t.Right, table, w)
		if err != nil {
			return "", err
		}
		op := ` INTERSECT `
		if t.Op == "OR" {
			op = ` UNION `
		}
		// SQLite takes no parenthesised operand in a compound SELECT: each side is a subquery.
		return `SELECT l.id FROM (` + l + `) l` + op + `SELECT r.id FROM (` + r + `) r`, nil
	case "":
	default:
		return "", fmt.Errorf("search operator %q", t.Op)
	}
	prefix := func(col, text string) string {
		lo, hi := column.PrefixRange(column.Key(text))
		return `SELECT object_id AS id FROM ` + table + ` WHERE tenant_key = $1 AND ` + col + ` >= ` + w.p(lo) + ` AND ` + col + ` < ` + w.p(hi)
	}
	switch {
	case t.Property == store.SearchDisplayName && len(t.Words) > 0:
		for _, word := range t.Words {
			if word == "" || len(word) > store.MaxIndexedWord {
				return "", fmt.Errorf("search word of %d bytes", len(word))
			}
		}
		// The longest word drives (a longer prefix is the likelier to be rare: in "id-0004242"
		// every identity has the word id); each other word is a range of the object's own
		// words, the primary key (object_id, word), rather than a set of the whole tenant's.
		// DISTINCT: a prefix may begin several words of one name ("we": web, webidentity).
		words := slices.Clone(t.Words)
		slices.SortStableFunc(words, func(a, b string) int { return len(b) - len(a) })
		lo, hi := column.PrefixRange(words[0])
		q := `SELECT DISTINCT w.object_id AS id FROM ` + wordsTable(table) + ` w WHERE w.tenant_key = $1 AND w.word >= ` + w.p(lo) + ` AND w.word < ` + w.p(hi)
		for i, word := range words[1:] {
			lo, hi := column.PrefixRange(word)
			o := fmt.Sprintf("o%d", i)
			q += ` AND EXISTS (SELECT 1 FROM ` + wordsTable(table) + ` ` + o + ` WHERE ` + o + `.object_id = w.object_id AND ` +
				o + `.word >= ` + w.p(lo) + ` AND ` + o + `.word < ` + w.p(hi) + `)`
		}
		return q, nil
	case t.Prefix == "":
	case t.Property == store.SearchObjectID:
		// The primary key's range, in every tenant (the query keeps the tenant's): with the
		// tenant's condition here SQLite would walk the tenant's index instead.
		lo, hi := column.PrefixRange(column.Key(t.Prefix))
		return `SELECT object_id AS id FROM ` + table + ` WHERE object_id >= ` + w.p(lo) + ` AND object_id < ` + w.p(hi), nil
	case t.Property == store.SearchAppID && table == "principals":
		return prefix("app_key", t.Prefix), nil
	case t.Property == store.SearchUserPrincipalName && table == "users":
		return prefix("upn_key", t.Prefix), nil
	case t.Property == store.SearchMailNickname && table != "principals":
		return prefix("mail_key", t.Prefix), nil
	}
	return "", fmt.Errorf("search clause on property %d of %s", t.Property, table)
}
