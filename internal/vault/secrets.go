package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mint-id/mint/internal/jsonbody"
	"github.com/mint-id/mint/internal/store"
)

// The secrets operations (https://learn.microsoft.com/rest/api/keyvault/secrets/operation-groups). Each handler runs after authentication, api-version
// and route checks; it authorizes, acts on the store and writes Key Vault's JSON.

const (
	maxRequestBody = 1 << 20
	// maxRestoreBody admits the largest blob decodeBackup accepts, as base64 in JSON.
	maxRestoreBody = maxBackupBlob/3*4 + 4096
)

func (s *Server) serveOperation(q *request, query url.Values) {
	rt := q.route
	if rt.op == opSet || rt.op == opRestore {
		// Values are encrypted under the vault's current data key, never a cached one.
		if err := s.freshVault(q); errors.Is(err, store.ErrNotFound) {
			writeError(q.w, vaultNotFound(q.vault.name))
			return
		} else if err != nil {
			s.fail(q, err)
			return
		}
	}
	if rt.op == opRestore {
		q.w = &invalidatingWriter{ResponseWriter: q.w, c: s.secrets}
		defer s.secrets.invalidate()
		s.restore(q) // authorized once the blob names the secret
		return
	}
	if !s.authorize(q, rt.op, rt.name) {
		return
	}
	if rt.op.writes() {
		// Forget the cached secret versions once the write has reached the store and before
		// the client hears of it (the first header written), and again when the handler
		// returns (a write that answered nothing, its client gone).
		q.w = &invalidatingWriter{ResponseWriter: q.w, c: s.secrets}
		defer s.secrets.invalidate()
	}
	switch rt.op {
	case opSet:
		s.set(q)
	case opGet:
		s.get(q)
	case opList:
		s.list(q, query)
	case opListVersions:
		s.listVersions(q, query)
	case opUpdate:
		s.update(q)
	case opDelete:
		s.delete(q)
	case opGetDeleted:
		s.getDeleted(q)
	case opListDeleted:
		s.listDeleted(q, query)
	case opRecover:
		s.recover(q)
	case opPurge:
		s.purge(q)
	case opBackup:
		s.backup(q)
	}
}

func (s *Server) now() time.Time { return s.cfg.Clock().UTC() }

// readJSON reads a JSON body of at most limit bytes into v. Unknown fields are ignored.
func readJSON(q *request, limit int64, v any) *Error {
	if q.r.Body == nil {
		return badParameter("The request body is empty: this operation needs a JSON body.")
	}
	data, err := io.ReadAll(io.LimitReader(q.r.Body, limit+1))
	if err != nil {
		return badParameter("The request body could not be read.")
	}
	if int64(len(data)) > limit {
		return newError(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limit))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return badParameter("The request body is empty: this operation needs a JSON body.")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently store U+FFFD in place of each bad byte: a changed secret.
		return badParameter("The request body is not valid UTF-8.")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return badParameter(fmt.Sprintf("The request body is invalid: the property '%s' cannot be a JSON %s.", typ.Field, typ.Value))
		}
		return badParameter("The request body is not valid JSON: " + err.Error())
	}
	if err := jsonbody.Check(data); err != nil {
		// Two spellings of one property, or a lone surrogate: encoding/json would resolve either
		// silently, and store a secret other than the one sent.
		return badParameter(err.Error() + ".")
	}
	return nil
}

// Identifiers are built from the Host the client used (https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates).

func (q *request) base() string { return "https://" + q.host }

func (q *request) secretID(name string) string { return q.base() + "/secrets/" + name }

func (q *request) versionID(name, version string) string {
	return q.base() + "/secrets/" + name + "/" + version
}

func (q *request) recoveryID(name string) string { return q.base() + "/deletedsecrets/" + name }

func unix(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

func (q *request) attributes(v store.SecretVersion) SecretAttributes {
	return SecretAttributes{
		Enabled: v.Enabled, NotBefore: unix(v.NotBefore), Expires: unix(v.Expires),
		Created: v.Created.Unix(), Updated: v.Updated.Unix(),
		RecoveryLevel: q.vault.recoveryLevel(), RecoverableDays: q.vault.recoverableDays(),
	}
}

func nonEmptyTags(tags map[string]string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	return tags
}

// bundle is a version as SecretBundle; value is nil where Key Vault leaves it out.
func (q *request) bundle(v store.SecretVersion, value *string) SecretBundle {
	return SecretBundle{
		Value: value, ID: q.versionID(v.Name, v.Version), ContentType: v.ContentType,
		Attributes: q.attributes(v), Tags: nonEmptyTags(v.Tags),
	}
}

func (q *request) deletedBundle(d store.DeletedSecret) DeletedSecretBundle {
	return DeletedSecretBundle{
		RecoveryID: q.recoveryID(d.Name), DeletedDate: d.DeletedAt.Unix(), ScheduledPurgeDate: d.PurgeAt.Unix(),
		SecretBundle: q.bundle(d.SecretVersion, nil),
	}
}

// checkAttributes validates the writable attributes, content type and tags of a set or update.
func checkAttributes(contentType *string, tags map[string]string, a *SecretAttributesInput) *Error {
	if contentType != nil && len(*contentType) > maxContentTypeLength {
		return badParameter(fmt.Sprintf("The content type is %d characters long; it may be at most %d.", len(*contentType), maxContentTypeLength))
	}
	if len(tags) > maxTags {
		return badParameter(fmt.Sprintf("The secret has %d tags; a secret may have at most %d.", len(tags), maxTags))
	}
	for k, v := range tags {
		if len(k) == 0 || len(k) > maxTagLength || len(v) > maxTagLength {
			return badParameter(fmt.Sprintf("The tag '%s' is invalid: tag names are 1 to %d characters and values at most %d.", truncate(k, 64), maxTagLength, maxTagLength))
		}
	}
	if a != nil {
		if a.NotBefore != nil && *a.NotBefore < 0 || a.Expires != nil && *a.Expires < 0 {
			return badParameter("The attributes nbf and exp are Unix times in seconds and cannot be negative.")
		}
		if a.NotBefore != nil && a.Expires != nil && *a.Expires < *a.NotBefore {
			return badParameter("The expiry time (exp) of the secret is before its activation time (nbf).")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func fromUnix(p *int64) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.Unix(*p, 0).UTC()
}

// set answers PUT /secrets/{name}: a new version, with its value.
func (s *Server) set(q *request) {
	var p SecretSetParameters
	if e := readJSON(q, maxRequestBody, &p); e != nil {
		writeError(q.w, e)
		return
	}
	if p.Value == nil {
		writeError(q.w, badParameter("The secret value is required: send {\"value\": \"...\"}."))
		return
	}
	if len(*p.Value) > maxValueBytes {
		writeError(q.w, badParameter(fmt.Sprintf("The secret value is %d bytes; a secret value may be at most %d bytes.", len(*p.Value), maxValueBytes)))
		return
	}
	if e := checkAttributes(p.ContentType, p.Tags, p.Attributes); e != nil {
		writeError(q.w, e)
		return
	}
	now := s.now()
	v := store.SecretVersion{VaultName: q.vault.name, Name: q.route.name, Version: newVersion(), Tags: p.Tags, Enabled: true, Created: now, Updated: now}
	if p.ContentType != nil {
		v.ContentType = *p.ContentType
	}
	if a := p.Attributes; a != nil {
		if a.Enabled != nil {
			v.Enabled = *a.Enabled
		}
		v.NotBefore, v.Expires = fromUnix(a.NotBefore), fromUnix(a.Expires)
	}
	sealed, err := sealValue(q.vault.aead, q.vault.id, v.Name, v.Version, []byte(*p.Value))
	if err != nil {
		s.fail(q, err)
		return
	}
	v.Value = sealed
	stored, err := s.st.PutSecretVersion(q.ctx, v)
	switch {
	case errors.Is(err, store.ErrConflict):
		writeError(q.w, deletedButRecoverable(q.route.name))
		return
	case errors.Is(err, store.ErrNotFound):
		writeError(q.w, vaultNotFound(q.vault.name))
		return
	case err != nil:
		s.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, q.bundle(stored, p.Value))
}

// version reads the version the route names (the latest without one); false when it has
// answered the request with an error.
func (s *Server) version(q *request) (store.SecretVersion, bool) {
	v, err := s.st.GetSecretVersion(q.ctx, q.vault.name, q.route.name, q.route.version)
	if errors.Is(err, store.ErrNotFound) {
		writeError(q.w, secretNotFound(q.route.name, q.route.version))
		return v, false
	}
	if err != nil {
		s.fail(q, err)
		return v, false
	}
	return v, true
}

// get answers GET /secrets/{name}/[{version}]: the value, if the version is enabled and within
// its nbf/exp window. The sealed version may come from the secret cache; it is opened here, on
// every request, into a pooled buffer, and the answer is rendered by hand (render.go: the same
// bytes encoding/json writes).
func (s *Server) get(q *request) {
	key := secretKey(q.vault, q.route.name, q.route.version)
	sealed, ok := s.secrets.get(key)
	if !ok {
		gen := s.secrets.generation()
		v, ok := s.version(q)
		if !ok {
			return
		}
		sealed = &sealedSecret{v: v, ad: valueAD(q.vault.id, v.Name, v.Version)}
		s.secrets.put(key, gen, sealed)
	}
	v := &sealed.v
	now := s.now()
	switch {
	case !v.Enabled:
		writeError(q.w, secretDisabled())
		return
	case !v.NotBefore.IsZero() && now.Before(v.NotBefore):
		writeError(q.w, secretNotYetValid())
		return
	case !v.Expires.IsZero() && !now.Before(v.Expires):
		writeError(q.w, secretExpired())
		return
	}
	plainBuf := getBuffer()
	plain, err := s.openInto(q, sealed, *plainBuf)
	if err != nil {
		putBuffer(plainBuf, *plainBuf)
		s.fail(q, err)
		return
	}
	bundle := q.bundle(*v, nil)
	bodyBuf := getBuffer()
	body := appendSecretBundle(*bodyBuf, &bundle, plain, true)
	putBuffer(plainBuf, plain)
	writeBody(q.w, http.StatusOK, body)
	putBuffer(bodyBuf, body)
}

// list answers GET /secrets: the latest version of each secret, 25 (or maxresults) a page.
func (s *Server) list(q *request, query url.Values) {
	size, after, ok := pageStart(q, query, decodeNameToken)
	if !ok {
		return
	}
	vs, err := s.st.ListSecrets(q.ctx, q.vault.name, after, size+1)
	if err != nil {
		s.fail(q, err)
		return
	}
	writePage(q, query, size, vs, nameToken, func(v store.SecretVersion) SecretItem {
		return SecretItem{ID: q.secretID(v.Name), Attributes: q.attributes(v), Tags: nonEmptyTags(v.Tags), ContentType: v.ContentType}
	})
}

// listVersions answers GET /secrets/{name}/versions.
func (s *Server) listVersions(q *request, query url.Values) {
	size, after, ok := pageStart(q, query, decodeSeqToken)
	if !ok {
		return
	}
	vs, err := s.st.ListSecretVersions(q.ctx, q.vault.name, q.route.name, after, size+1)
	if err != nil {
		s.fail(q, err)
		return
	}
	seqToken := func(v store.SecretVersion) string { return encodeSkipToken('s', fmt.Sprint(v.Seq)) }
	writePage(q, query, size, vs, seqToken, func(v store.SecretVersion) SecretItem {
		return SecretItem{ID: q.versionID(v.Name, v.Version), Attributes: q.attributes(v), Tags: nonEmptyTags(v.Tags), ContentType: v.ContentType}
	})
}

// pageStart reads a list's page size and where its page starts, from the $skiptoken by decode
// (the zero value without one); false when it has answered the request with an error.
func pageStart[T any](q *request, query url.Values, decode func(token string) (T, *Error)) (size int, after T, ok bool) {
	size, token, e := pageParams(query)
	if e == nil && token != "" {
		after, e = decode(token)
	}
	if e != nil {
		writeError(q.w, e)
		return 0, after, false
	}
	return size, after, true
}

// decodeNameToken reads the skip token of a list by name.
// Names are written lower-cased (nameToken), so a token with a capital was not written here.
func decodeNameToken(token string) (string, *Error) {
	name, e := decodeSkipToken('n', token)
	if e == nil && (name == "" || name != strings.ToLower(name)) {
		return "", invalidSkipToken(token)
	}
	return name, e
}

// nameToken is the skip token of a list by name that goes on after v.
func nameToken(v store.SecretVersion) string { return encodeSkipToken('n', strings.ToLower(v.Name)) }

// writePage answers a list with the first size of vs (read one more than a page) as items, and a
// nextLink, with the skip token token gives for the last of them, when there are more.
func writePage[V, I any](q *request, query url.Values, size int, vs []V, token func(V) string, item func(V) I) {
	out := SecretListResult[I]{Value: []I{}}
	for i, v := range vs {
		if i == size {
			next := nextLink(q.host, q.r.URL.Path, q.apiVersion, token(vs[i-1]), query)
			out.NextLink = &next
			break
		}
		out.Value = append(out.Value, item(v))
	}
	writeJSON(q.w, http.StatusOK, out)
}

// update answers PATCH /secrets/{name}/[{version}]: attributes, content type and tags; the
// value never changes. Absent fields are kept.
func (s *Server) update(q *request) {
	var p SecretUpdateParameters
	if e := readJSON(q, maxRequestBody, &p); e != nil {
		writeError(q.w, e)
		return
	}
	var tags map[string]string
	if p.Tags != nil {
		tags = *p.Tags
	}
	if e := checkAttributes(p.ContentType, tags, p.Attributes); e != nil {
		writeError(q.w, e)
		return
	}
	v, ok := s.version(q)
	if !ok {
		return
	}
	if p.ContentType != nil {
		v.ContentType = *p.ContentType
	}
	if p.Tags != nil {
		v.Tags = tags
	}
	if a := p.Attributes; a != nil {
		if a.Enabled != nil {
			v.Enabled = *a.Enabled
		}
		if a.NotBefore != nil {
			v.NotBefore = fromUnix(a.NotBefore)
		}
		if a.Expires != nil {
			v.Expires = fromUnix(a.Expires)
		}
	}
	if !v.NotBefore.IsZero() && !v.Expires.IsZero() && v.Expires.Before(v.NotBefore) {
		writeError(q.w, badParameter("The expiry time (exp) of the secret is before its activation time (nbf)."))
		return
	}
	v.Updated = s.now()
	if err := s.st.UpdateSecretVersion(q.ctx, v); errors.Is(err, store.ErrNotFound) {
		writeError(q.w, secretNotFound(q.route.name, q.route.version))
		return
	} else if err != nil {
		s.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, q.bundle(v, nil))
}

// delete answers DELETE /secrets/{name}: the secret becomes deleted but recoverable for the
// vault's retention period.
func (s *Server) delete(q *request) {
	now := s.now()
	purgeAt := now.Add(time.Duration(q.vault.retentionDays) * 24 * time.Hour)
	d, err := s.st.DeleteSecret(q.ctx, q.vault.name, q.route.name, now, purgeAt)
	if errors.Is(err, store.ErrNotFound) {
		writeError(q.w, secretNotFound(q.route.name, ""))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	out := q.deletedBundle(d)
	if !q.vault.softDelete {
		// A vault without soft delete (only ever an old one) forgets the secret at once.
		if err := s.st.PurgeSecret(q.ctx, q.vault.name, q.route.name); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(q, err)
			return
		}
		out.RecoveryID, out.ScheduledPurgeDate = "", 0
	}
	writeJSON(q.w, http.StatusOK, out)
}

// getDeleted answers GET /deletedsecrets/{name}.
func (s *Server) getDeleted(q *request) {
	d, err := s.st.GetDeletedSecret(q.ctx, q.vault.name, q.route.name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(q.w, deletedSecretNotFound(q.route.name))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, q.deletedBundle(d))
}

// listDeleted answers GET /deletedsecrets.
func (s *Server) listDeleted(q *request, query url.Values) {
	size, after, ok := pageStart(q, query, decodeNameToken)
	if !ok {
		return
	}
	ds, err := s.st.ListDeletedSecrets(q.ctx, q.vault.name, after, size+1)
	if err != nil {
		s.fail(q, err)
		return
	}
	deletedToken := func(d store.DeletedSecret) string { return nameToken(d.SecretVersion) }
	writePage(q, query, size, ds, deletedToken, func(d store.DeletedSecret) DeletedSecretItem {
		return DeletedSecretItem{
			RecoveryID: q.recoveryID(d.Name), DeletedDate: d.DeletedAt.Unix(), ScheduledPurgeDate: d.PurgeAt.Unix(),
			SecretItem: SecretItem{ID: q.secretID(d.Name), Attributes: q.attributes(d.SecretVersion), Tags: nonEmptyTags(d.Tags), ContentType: d.ContentType},
		}
	})
}

// recover answers POST /deletedsecrets/{name}/recover: the latest version, without value.
func (s *Server) recover(q *request) {
	v, err := s.st.RecoverSecret(q.ctx, q.vault.name, q.route.name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(q.w, deletedSecretNotFound(q.route.name))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, q.bundle(v, nil))
}

// purge answers DELETE /deletedsecrets/{name}: 204, unless the vault has purge protection.
func (s *Server) purge(q *request) {
	if q.vault.purgeProtection {
		writeError(q.w, purgeProtected(q.vault.ref()))
		return
	}
	err := s.st.PurgeSecret(q.ctx, q.vault.name, q.route.name)
	if errors.Is(err, store.ErrNotFound) {
		writeError(q.w, deletedSecretNotFound(q.route.name))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusNoContent)
}

// backup answers POST /secrets/{name}/backup: every version in one blob.
func (s *Server) backup(q *request) {
	vs, err := s.st.ListSecretVersions(q.ctx, q.vault.name, q.route.name, 0, maxBackupVersions+1)
	if err != nil {
		s.fail(q, err)
		return
	}
	if len(vs) == 0 {
		writeError(q.w, secretNotFound(q.route.name, ""))
		return
	}
	if len(vs) > maxBackupVersions {
		writeError(q.w, badParameter(fmt.Sprintf("The secret has more than %d versions, more than one backup can hold.", maxBackupVersions)))
		return
	}
	p := backupPayload{Name: vs[0].Name}
	for _, v := range vs {
		plain, err := s.open(q, v)
		if err != nil {
			s.fail(q, err)
			return
		}
		p.Versions = append(p.Versions, backupVersion{
			Version: v.Version, Value: string(plain), ContentType: v.ContentType, Tags: v.Tags, Enabled: v.Enabled,
			NotBefore: micros(v.NotBefore), Expires: micros(v.Expires), Created: micros(v.Created), Updated: micros(v.Updated),
		})
	}
	blob, err := encodeBackup(s.backupKey, p)
	if err != nil {
		s.fail(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, BackupSecretResult{Value: base64.RawURLEncoding.EncodeToString(blob)})
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// restore answers POST /secrets/restore: the secret of a backup blob, under its own name,
// re-encrypted under this vault's key. Authorization is at the secret the blob names.
func (s *Server) restore(q *request) {
	var p SecretRestoreParameters
	if e := readJSON(q, maxRestoreBody, &p); e != nil {
		writeError(q.w, e)
		return
	}
	if p.Value == nil || *p.Value == "" {
		writeError(q.w, badParameter("The backup blob is required: send {\"value\": \"<blob from a backup>\"}."))
		return
	}
	blob, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(*p.Value, "="))
	if err != nil {
		writeError(q.w, badParameter("The backup blob is not unpadded base64url."))
		return
	}
	b, err := decodeBackup(s.backupKey, blob)
	if err != nil {
		writeError(q.w, badParameter("The backup blob is invalid: "+err.Error()+"."))
		return
	}
	if !s.authorize(q, opRestore, b.Name) {
		return
	}
	versions := make([]store.SecretVersion, len(b.Versions))
	for i, bv := range b.Versions {
		version := strings.ToLower(bv.Version)
		sealed, err := sealValue(q.vault.aead, q.vault.id, b.Name, version, []byte(bv.Value))
		if err != nil {
			s.fail(q, err)
			return
		}
		versions[i] = store.SecretVersion{
			VaultName: q.vault.name, Name: b.Name, Version: version, Value: sealed, ContentType: bv.ContentType, Tags: bv.Tags,
			Enabled: bv.Enabled, NotBefore: fromMicros(bv.NotBefore), Expires: fromMicros(bv.Expires),
			Created: fromMicros(bv.Created), Updated: fromMicros(bv.Updated),
		}
	}
	err = s.st.RestoreSecret(q.ctx, q.vault.name, versions)
	switch {
	case errors.Is(err, store.ErrConflict):
		if _, derr := s.st.GetDeletedSecret(q.ctx, q.vault.name, b.Name); derr == nil {
			writeError(q.w, deletedButRecoverable(b.Name))
		} else {
			writeError(q.w, secretExists(b.Name))
		}
		return
	case errors.Is(err, store.ErrNotFound):
		writeError(q.w, vaultNotFound(q.vault.name))
		return
	case err != nil:
		s.fail(q, err)
		return
	}
	latest := versions[len(versions)-1]
	latest.Created, latest.Updated = latest.Created.Truncate(time.Microsecond), latest.Updated.Truncate(time.Microsecond)
	writeJSON(q.w, http.StatusOK, q.bundle(latest, nil))
}

// open decrypts a stored value. A value that does not open under the cached data key may be
// one of a vault created again under the same name since: it is tried once more with the vault
// as the store has it now.
func (s *Server) open(q *request, v store.SecretVersion) ([]byte, error) {
	return s.openInto(q, &sealedSecret{v: v, ad: valueAD(q.vault.id, v.Name, v.Version)}, nil)
}

// openInto is open appending the plaintext to dst.
func (s *Server) openInto(q *request, sealed *sealedSecret, dst []byte) ([]byte, error) {
	v := &sealed.v
	plain, err := openValueAD(q.vault.aead, sealed.ad, v.Value, dst)
	if err == nil {
		return plain, nil
	}
	old := q.vault.sealedKey
	if ferr := s.freshVault(q); ferr == nil && !bytes.Equal(old, q.vault.sealedKey) {
		if plain, err = openValueAD(q.vault.aead, sealed.ad, v.Value, dst); err == nil {
			return plain, nil
		}
	}
	return nil, fmt.Errorf("secret %s/%s of vault %s: %w", v.Name, v.Version, q.vault.name, err)
}
