#!/bin/sh
# Builds bin/nsh. Statically linked: the child stage is nsh re-executed, so
# every spawn loads this binary again, and a static one skips the dynamic
# loader (about 1.5 ms per start on the development VM). netgo and osusergo
# keep glibc's NSS, which cannot be linked statically, out of it.
set -eu
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
go build -tags netgo,osusergo -ldflags '-linkmode external -extldflags -static' -o bin/nsh .
# export k8s runs it: the Kubernetes types live there, not in nsh, whose
# every start they would slow (docs/kubernetes.md).
go build -o bin/nsh-k8s ./cmd/nsh-k8s
