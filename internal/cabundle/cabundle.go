// Package cabundle writes the one-file CA bundles workloads trust mint's certificates with. It is
// a leaf: the CA (internal/keys) and the lean node agent, which has the CA's certificate but not
// its key, both write them.
package cabundle

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SystemRootFiles are the usual places of the system trust store, Debian first.
var SystemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/cert.pem",
}

// Write writes a PEM bundle of the system's trusted roots (the first of SystemRootFiles that
// exists, if any), the files in extraRootFiles, and the CA (caPEM), for workloads that take one CA
// file (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS...). The file is replaced
// atomically and is readable by all: it holds only public certificates.
func Write(path string, caPEM []byte, extraRootFiles ...string) error {
	var buf bytes.Buffer
	for _, system := range SystemRootFiles {
		data, err := os.ReadFile(system)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write CA bundle: read system roots: %w", err)
		}
		appendPEM(&buf, data)
		break
	}
	for _, extra := range extraRootFiles {
		data, err := os.ReadFile(extra)
		if err != nil {
			return fmt.Errorf("write CA bundle: read extra roots: %w", err)
		}
		appendPEM(&buf, data)
	}
	appendPEM(&buf, caPEM)

	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}

// appendPEM appends data, making sure it ends with a newline so the next block starts on its own
// line.
func appendPEM(buf *bytes.Buffer, data []byte) {
	buf.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		buf.WriteByte('\n')
	}
}
