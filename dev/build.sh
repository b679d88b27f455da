#!/bin/sh
# Builds bin/nsh. Statically linked: the child stage is nsh re-executed, so
# every spawn loads this binary again, and a static one skips the dynamic
# loader (about 1.5 ms per start on the development VM); with musl
# (dev/toolchain.sh says why). netgo and osusergo keep the C library's
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
