package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mint-id/mint/internal/bearer"
	"github.com/mint-id/mint/internal/store"
)

// A directory write (applications, service principals, users, groups, memberships, credentials)
// is recorded in the activity log as the management endpoint's writes are: the store inserts the
// entry in the write's own transaction (store.WithPendingActivity), so that no change commits
// without its entry; refused or failed attempts are appended after the answer. Entries carry no
// subscription: the management endpoint's activity log (per subscription) does not list them.

// activityWriter remembers the status and an error body, for the entry of a refused attempt.
type activityWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *activityWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *activityWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && w.body.Len() < 4096 {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func isDirectoryWrite(method string) bool {
	return method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut || method == http.MethodDelete
}

// directoryEvent is the entry of a directory write, without its outcome.
func (s *Server) directoryEvent(r *http.Request, caller bearer.Claims, seg []string) store.ActivityEvent {
	verb := "write"
	switch {
	case r.Method == http.MethodDelete:
		verb = "delete"
	case r.Method == http.MethodPost && len(seg) > 2:
		verb = seg[len(seg)-1] + "/action" // addPassword, members/$ref ...
	}
	kind, _, _ := strings.Cut(seg[0], "(")
	correlation := r.Header.Get("client-request-id")
	if _, err := uuid.Parse(correlation); err != nil {
		correlation = requestID(r)
	}
	return store.ActivityEvent{
		ID: uuid.NewString(), OperationID: requestID(r), CorrelationID: correlation, Time: time.Now().UTC(),
		ResourceID: strings.TrimSuffix(r.URL.Path, "/"), ResourceType: "Microsoft.Graph/" + kind,
		OperationName: "Microsoft.Graph/" + kind + "/" + verb,
		Caller:        caller.ObjectID, CallerAppID: caller.ClientID(), HTTPMethod: r.Method,
	}
}

// serveWrite serves a directory write with its activity-log entry.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request, caller bearer.Claims, seg []string, serve func(http.ResponseWriter, *http.Request)) {
	ev := s.directoryEvent(r, caller, seg)
	// Graph answers 201 to a create, 200 to an action with a body (addPassword), 204 otherwise.
	created, other := http.StatusCreated, http.StatusNoContent
	if r.Method == http.MethodPost && len(seg) > 2 && !strings.HasSuffix(r.URL.Path, "$ref") {
		created, other = http.StatusOK, http.StatusOK
	}
	if r.Method == http.MethodPost && len(seg) == 1 {
		other = http.StatusCreated
	}
	ctx, _ := store.WithPendingActivity(r.Context(), ev, created, other)
	aw := &activityWriter{ResponseWriter: w}
	serve(aw, r.WithContext(ctx))

	status := aw.status
	if status == 0 {
		status = http.StatusOK
	}
	if status < 400 {
		return // the entry was committed with the change, or nothing changed
	}
	ev.ID, ev.Time = uuid.NewString(), time.Now().UTC()
	ev.Status, ev.SubStatus, ev.HTTPStatus = "Failed", http.StatusText(status), status
	var env struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(aw.body.Bytes(), &env) == nil && env.Error != nil {
		ev.Message = env.Error.Code + ": " + env.Error.Message
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.st.AppendActivity(actx, ev); err != nil {
		s.log.Error("activity log write failed", "path", r.URL.Path, "err", err)
	}
}
