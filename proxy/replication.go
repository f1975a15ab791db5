package proxy

import (
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/valyala/fasthttp"
)

// Embedded replicas (libSQL's native client with a syncUrl) are not
// served: a tenant database is reached over Hrana only. The native client
// first asks GET /info (a success would select the offline-sync protocol;
// anything else but 401 falls back to replication over gRPC-web), then
// calls /wal_log.ReplicationLog/Hello, retrying ordinary gRPC errors for
// seconds before its handshake times out. The one answer it gives up on at
// once is FAILED_PRECONDITION with the message NAMESPACE_DOESNT_EXIST, so
// that is what the replication endpoints answer; /info and the sync
// endpoints answer 404 with a JSON message saying why.

const replicationMsg = "Embedded replicas and offline sync are not supported: tenantgate serves tenant databases over Hrana only; use an http(s):// or ws(s):// URL without syncUrl"

// refuseReplication answers the replication and sync endpoints.
func (s *Server) refuseReplication(r *httpapi.Request) error {
	s.metrics.replicationRefused.Inc()
	ctx := r.Ctx
	if string(ctx.Method()) == fasthttp.MethodPost && len(r.Params["method"]) > 0 {
		// A gRPC-web trailers-only response: the status is in the headers.
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetContentType("application/grpc-web+proto")
		ctx.Response.Header.Set("grpc-status", "9") // FAILED_PRECONDITION
		ctx.Response.Header.Set("grpc-message", "NAMESPACE_DOESNT_EXIST")
		ctx.Response.Header.Set("x-tenantgate-error", replicationMsg)
		return nil
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusNotFound, map[string]string{"error": replicationMsg, "message": replicationMsg, "code": "REPLICATION_NOT_SUPPORTED"})
	return nil
}
