package proxy

import (
	"bytes"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// clientAddr is the address of the client behind a request: the peer (or
// the address a PROXY protocol header named), unless the peer is a trusted
// proxy, in which case the address it forwarded in Forwarded or
// X-Forwarded-For. Forwarding headers from anyone else are ignored: they
// are trivially forged.
func (s *Server) clientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := addrOf(ctx.RemoteAddr())
	if len(s.trusted) == 0 || !s.trusted.contains(peer) {
		return peer
	}
	if a, ok := s.trusted.forwarded(&ctx.Request.Header); ok {
		return a
	}
	return peer
}

// addrOf is a net.Addr's IP, IPv4-mapped addresses unmapped.
func addrOf(a net.Addr) netip.Addr {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(tcp.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// forwarded reads the client address out of the forwarding headers. Each
// proxy appends the address it received from, so the list is read right to
// left: the first address that is not a trusted proxy is the client (the
// entries to its left were written by the client itself). Forwarded
// (RFC 7239) is preferred over X-Forwarded-For when both are present.
func (t trustedProxies) forwarded(h *fasthttp.RequestHeader) (netip.Addr, bool) {
	var hops []netip.Addr
	if vs := h.PeekAll("Forwarded"); len(vs) > 0 {
		for _, v := range vs {
			for elem := range strings.SplitSeq(string(v), ",") {
				hops = append(hops, forwardedFor(elem))
			}
		}
	} else {
		for _, v := range h.PeekAll("X-Forwarded-For") {
			for f := range bytes.SplitSeq(v, []byte(",")) {
				hops = append(hops, parseHop(string(bytes.TrimSpace(f))))
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a := hops[i]
		if !a.IsValid() {
			return netip.Addr{}, false // garbage or an obfuscated node: stop believing
		}
		if !t.contains(a) {
			return a, true
		}
	}
	if len(hops) > 0 && hops[0].IsValid() {
		return hops[0], true // every hop is a trusted proxy
	}
	return netip.Addr{}, false
}

// forwardedFor is the for= node of one Forwarded element.
func forwardedFor(elem string) netip.Addr {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(k, "for") {
			return parseHop(strings.Trim(v, `"`))
		}
	}
	return netip.Addr{}
}

// parseHop parses "1.2.3.4", "1.2.3.4:80", "2001:db8::1" or
// "[2001:db8::1]:80".
func parseHop(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// ParseTrustedProxies parses a comma-separated list of CIDRs or addresses.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
