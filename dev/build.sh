#!/bin/sh
# Builds bin/nsh. Statically linked: a static binary skips the dynamic
# loader at every start (about 1.5 ms on the development VM), and the
# child stage, C run in a copy of nsh straight after clone3, then needs
# no copy of Go's heap (isolate/clone.h); with musl (dev/toolchain.sh
# says why). netgo and osusergo keep the C library's
# name services out of it.
set -eu
cd "$(dirname "$0")/.."
. dev/toolchain.sh
go build -tags "$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o bin/nsh .
# export k8s runs it: the Kubernetes types live there, not in nsh, whose
# every start they would slow (docs/kubernetes.md). Pure Go.
CGO_ENABLED=0 go build -o bin/nsh-k8s ./cmd/nsh-k8s
# pair on runs it: the web server, TLS and the page (pair/assets, which
# dev/web.sh takes from the npm registry) live there. Pure Go.
CGO_ENABLED=0 go build -o bin/nsh-pair ./cmd/nsh-pair
# commit @ID DIR and rootfs --image run it: the image formats
# (image-spec, go-digest, whose initializers every start of nsh would pay)
# live there. Pure Go.
CGO_ENABLED=0 go build -o bin/nsh-image ./cmd/nsh-image
