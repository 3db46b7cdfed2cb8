package testbroker

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Handler returns the admin HTTP API:
//
//	GET  /healthz                                   200 "ok" while the broker runs
//	GET  /state                                     State as JSON
//	POST /move-leader?topic=T&partition=P&node=N    make N the leader of T/P
//	POST /shuffle-leaders                           random leader for every partition
//	POST /remove-node?node=N                        close node N (listener and connections)
//	POST /add-node[?node=N][&port=P]                add a node (default: next id, free port)
//	POST /pause-node?node=N&duration=D              hold N's requests for D (Go duration, e.g. 5s)
//	POST /resume-node?node=N                        end a pause early
//
// Errors are JSON {"error": "..."} with 400 (bad argument), 404 (unknown node or
// partition), 405 (wrong method), 409 (conflict) or 503 (closed).
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		b.life.RLock()
		closed := b.closed
		b.life.RUnlock()
		if closed {
			writeErr(w, ErrClosed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		st, err := b.State()
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /move-leader", func(w http.ResponseWriter, r *http.Request) {
		q := query{r: r}
		topic := q.str("topic")
		part := q.int32("partition", -1, true)
		node := q.int32("node", -1, true)
		if q.err != nil {
			writeErr(w, q.err)
			return
		}
		if err := b.MoveLeader(topic, part, node); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"topic": topic, "partition": part, "leader": node})
	})
	mux.HandleFunc("POST /shuffle-leaders", func(w http.ResponseWriter, _ *http.Request) {
		if err := b.ShuffleLeaders(); err != nil {
			writeErr(w, err)
			return
		}
		st, err := b.State()
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /remove-node", func(w http.ResponseWriter, r *http.Request) {
		q := query{r: r}
		node := q.int32("node", -1, true)
		if q.err != nil {
			writeErr(w, q.err)
			return
		}
		if err := b.RemoveNode(node); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"removed": node})
	})
	mux.HandleFunc("POST /add-node", func(w http.ResponseWriter, r *http.Request) {
		q := query{r: r}
		node := q.int32("node", -1, false)
		port := q.int32("port", 0, false)
		if q.err == nil && (port < 0 || port > 65535) {
			q.err = fmt.Errorf("%w: port %d", ErrBadArgument, port)
		}
		if q.err != nil {
			writeErr(w, q.err)
			return
		}
		id, addr, err := b.AddNode(node, int(port))
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"node": id, "addr": addr})
	})
	mux.HandleFunc("POST /pause-node", func(w http.ResponseWriter, r *http.Request) {
		q := query{r: r}
		node := q.int32("node", -1, true)
		d := q.duration("duration")
		if q.err != nil {
			writeErr(w, q.err)
			return
		}
		until, err := b.PauseNode(node, d)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"node": node, "paused_until": until})
	})
	mux.HandleFunc("POST /resume-node", func(w http.ResponseWriter, r *http.Request) {
		q := query{r: r}
		node := q.int32("node", -1, true)
		if q.err != nil {
			writeErr(w, q.err)
			return
		}
		if err := b.ResumeNode(node); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"resumed": node})
	})
	return mux
}

// query reads URL parameters, keeping the first error.
type query struct {
	r   *http.Request
	err error
}

func (q *query) str(name string) string {
	v := q.r.URL.Query().Get(name)
	if v == "" && q.err == nil {
		q.err = fmt.Errorf("%w: missing parameter %q", ErrBadArgument, name)
	}
	return v
}

func (q *query) int32(name string, def int32, required bool) int32 {
	v := q.r.URL.Query().Get(name)
	if v == "" {
		if required && q.err == nil {
			q.err = fmt.Errorf("%w: missing parameter %q", ErrBadArgument, name)
		}
		return def
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		if q.err == nil {
			q.err = fmt.Errorf("%w: parameter %q: %q is not an integer", ErrBadArgument, name, v)
		}
		return def
	}
	return int32(n)
}

func (q *query) duration(name string) time.Duration {
	v := q.str(name)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil && q.err == nil {
		q.err = fmt.Errorf("%w: parameter %q: %v", ErrBadArgument, name, err)
	}
	return d
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadArgument):
		code = http.StatusBadRequest
	case errors.Is(err, ErrUnknownNode), errors.Is(err, ErrUnknownPartition):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	case errors.Is(err, ErrClosed):
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
