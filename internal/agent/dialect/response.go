package dialect

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/mint-id/mint/internal/jsonstr"
)

// Fields names the field set of one endpoint's 200 body. Each real endpoint sends its own set,
// and clients break on fields they do not expect: MSAL for Python computes now + refresh_in when
// it caches a token, so a "refresh_in" string (which no managed-identity endpoint sends) makes
// azure-identity fail with a TypeError.
type Fields uint8

// The field sets.
const (
	// FieldsIMDS: access_token, client_id, expires_in, expires_on, ext_expires_in, not_before,
	// resource, token_type, every number a string (IMDS's observed body; Arc's HIMDS mirrors IMDS,
	// and Cloud Shell's body is not documented, so it gets IMDS's).
	FieldsIMDS Fields = iota
	// FieldsAppService: access_token, client_id, expires_on, not_before, resource, token_type, the
	// numbers strings (the App Service 2019-08-01 documentation's response table).
	FieldsAppService
	// FieldsLegacy: access_token, expires_on, resource, token_type (the App Service 2017-09-01
	// sample, which Azure ML's endpoint speaks). expires_on is unix seconds, not the old date
	// string: MSAL Go cannot parse that string.
	FieldsLegacy
	// FieldsServiceFabric: access_token, expires_on as a JSON number, resource, token_type (the
	// Service Fabric managed-identity documentation's response).
	FieldsServiceFabric
	// NumFields counts the field sets.
	NumFields
)

// Fields returns the field set of k's 200 body.
func (k Kind) Fields() Fields {
	switch k {
	case AppService:
		return FieldsAppService
	case AzureML:
		return FieldsLegacy
	case ServiceFabric:
		return FieldsServiceFabric
	}
	return FieldsIMDS
}

// TokenBody is what a 200 response carries.
type TokenBody struct {
	Fields      Fields
	AccessToken string
	ClientID    string
	Resource    string // echoed exactly as the client sent it
	ExpiresOn   int64  // unix seconds (= the token's exp)
	NotBefore   int64  // unix seconds (= nbf)
	Now         int64  // unix seconds; expires_in counts down from it, as IMDS's does
	// EchoName/EchoValue add one field confirming a user-assigned identity, which Arc clients
	// require ("object_id" or "msi_res_id"; client_id is always present).
	EchoName, EchoValue string
}

// AppendToken renders the 200 body with b.Fields' field set. Keys are in alphabetical order, as
// IMDS sends them.
func AppendToken(dst []byte, b *TokenBody) []byte {
	in := b.ExpiresOn - b.Now
	if in < 0 {
		in = 0
	}
	dst = append(dst, `{"access_token":`...)
	dst = jsonstr.Append(dst, b.AccessToken)
	if b.Fields == FieldsIMDS || b.Fields == FieldsAppService {
		dst = append(dst, `,"client_id":`...)
		dst = jsonstr.Append(dst, b.ClientID)
	}
	if b.Fields == FieldsIMDS {
		dst = appendNumString(dst, `,"expires_in":"`, in)
	}
	if b.Fields == FieldsServiceFabric {
		dst = append(dst, `,"expires_on":`...)
		dst = strconv.AppendInt(dst, b.ExpiresOn, 10)
	} else {
		dst = appendNumString(dst, `,"expires_on":"`, b.ExpiresOn)
	}
	if b.Fields == FieldsIMDS {
		dst = appendNumString(dst, `,"ext_expires_in":"`, in)
	}
	if b.Fields == FieldsIMDS || b.Fields == FieldsAppService {
		dst = appendNumString(dst, `,"not_before":"`, b.NotBefore)
	}
	if b.EchoName != "" {
		dst = append(dst, ',')
		dst = jsonstr.Append(dst, b.EchoName)
		dst = append(dst, ':')
		dst = jsonstr.Append(dst, b.EchoValue)
	}
	dst = append(dst, `,"resource":`...)
	dst = jsonstr.Append(dst, b.Resource)
	dst = append(dst, `,"token_type":"Bearer"}`...)
	return dst
}

func appendNumString(dst []byte, prefix string, n int64) []byte {
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '"')
}

// AppendError renders e in its dialect's shape. correlationID is used by the App Service and
// Service Fabric shapes.
func AppendError(dst []byte, e *Error, correlationID string) []byte {
	switch {
	case e.versions:
		dst = append(dst, `{"error":`...)
		dst = jsonstr.Append(dst, e.Message)
		dst = append(dst, `,"newest-versions":[`...)
		for i := 0; i < 3 && i < len(IMDSVersions); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, IMDSVersions[len(IMDSVersions)-1-i])
		}
		return append(dst, "]}"...)
	case e.Kind.shape() == shapeAppService:
		dst = append(dst, `{"statusCode":`...)
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
		dst = append(dst, `,"message":`...)
		dst = jsonstr.Append(dst, e.Message)
		dst = append(dst, `,"correlationId":`...)
		dst = jsonstr.Append(dst, correlationID)
		return append(dst, '}')
	case e.Kind.shape() == shapeSF:
		dst = append(dst, `{"error":{"correlationId":`...)
		dst = jsonstr.Append(dst, correlationID)
		dst = append(dst, `,"code":`...)
		dst = jsonstr.Append(dst, e.Code)
		dst = append(dst, `,"message":`...)
		dst = jsonstr.Append(dst, e.Message)
		return append(dst, "}}"...)
	}
	dst = append(dst, `{"error":`...)
	dst = jsonstr.Append(dst, e.Code)
	dst = append(dst, `,"error_description":`...)
	dst = jsonstr.Append(dst, e.Message)
	return append(dst, '}')
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// WriteError writes e as the response, with Retry-After when set.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(AppendError(make([]byte, 0, 256), e, NewCorrelationID()))
}

// NewCorrelationID returns a random version-4 UUID.
func NewCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
