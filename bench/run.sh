#!/bin/sh
# Spawn benchmarks, side by side in one hyperfine run: each case spawns a
# child running /bin/true and waits. Run as root from anywhere:
#   bench/run.sh            # results in bench/results/, summary on stdout
# Needs hyperfine, runc, crun, bubblewrap, busybox-static (installed if missing).
set -eu
cd "$(dirname "$0")/.."
. ./dev/deps.sh
for p in hyperfine:hyperfine bwrap:bubblewrap crun:crun /usr/bin/time:time; do
	command -v "${p%%:*}" >/dev/null 2>&1 || { apt-get install -y -qq "${p#*:}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${p#*:}" >/dev/null; }; }
done
export PATH="/usr/local/go/bin:$PATH"
./dev/build.sh
out=bench/results
mkdir -p "$out"
work=$(mktemp -d /tmp/nsh-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
nsh=$PWD/bin/nsh
# The floor: the fastest Go program doing the same system calls
# (bench/floor), built static without cgo.
floor=$work/floor
CGO_ENABLED=0 go build -o "$floor" ./bench/floor
# The same floor linked with cgo and a constructor, static, as the brief's
# design makes nsh (a constructor joins namespaces before Go starts); its
# stage-* modes also re-execute it as the design's child stage.
floorcgo=$work/floor-cgo
# Linked as nsh is (dev/toolchain.sh: static, musl).
(. dev/toolchain.sh && go build -tags "floorcgo,$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o "$floorcgo" ./bench/floor)
# The same floor also linking the four libraries the brief makes nsh use
# (bench/floor/libs.go): their initializers run at every start, so its
# cchild-* modes are the Go-with-C-child floor for nsh as the brief
# specifies it.
floorcgolibs=$work/floor-cgo-libs
(. dev/toolchain.sh && go build -tags "floorcgo,floorlibs,$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o "$floorcgolibs" ./bench/floor)
# A hello linked as nsh is that also links the four libraries the brief
# makes nsh use: their initializers run at every start (bench/floorlibs).
floorlibs=$work/floor-libs
(. dev/toolchain.sh && go build -tags "$NSH_TAGS" -ldflags "$NSH_LDFLAGS" -o "$floorlibs" ./bench/floorlibs)

# The two floors of issue 35: the kernel's work in C alone (bench/cfloor),
# and a Go program linked as nsh is whose child runs C straight after
# clone3 (bench/floor cchild-*, in the floorcgo build above).
cfloor=$work/cfloor
musl-gcc -static -O2 -Wall -Werror -o "$cfloor" bench/cfloor/cfloor.c

# A busybox bundle with the full state, for runc and crun.
full='unshare uts ipc mnt pid net cgroup; cgroup set memory.max 100M; cgroup set pids.max 20; cap drop net_raw'
"$nsh" -c "rootfs --busybox $work/root; $full; export oci $work/bundle /bin/true" >/dev/null 2>&1
for n in 200 1000; do
	{ echo "$full"; i=0; while [ $i -lt $n ]; do echo "spawn /bin/true"; i=$((i + 1)); done; } | tr ';' '\n' > "$work/s$n.nsh"
done

runs=${RUNS:-40}
hyperfine -N --warmup 5 --runs "$runs" --export-json "$out/host.json" \
	-n bare /bin/true \
	-n nsh-startup "$nsh --version" \
	-n floor-hello "$floor hello" \
	-n floor-one-shot "$floor oneshot /bin/true" \
	-n floor-full "$floor full /bin/true" \
	-n floor-full-200 "$floor full -n 200 /bin/true" \
	-n floor-cgo-hello "$floorcgo hello" \
	-n floor-libs-hello "$floorlibs" \
	-n floor-cgo-one-shot "$floorcgo oneshot /bin/true" \
	-n floor-cgo-full "$floorcgo full /bin/true" \
	-n floor-stage-one-shot "$floorcgo stage-oneshot /bin/true" \
	-n floor-stage-full "$floorcgo stage-full /bin/true" \
	-n floor-stage-full-200 "$floorcgo stage-full -n 200 /bin/true" \
	-n floor-cchild-one-shot "$floorcgo cchild-oneshot /bin/true" \
	-n floor-cchild-full "$floorcgo cchild-full /bin/true" \
	-n floor-cchild-full-200 "$floorcgo cchild-full -n 200 /bin/true" \
	-n cfloor-one-shot "$cfloor oneshot /bin/true" \
	-n cfloor-full "$cfloor full /bin/true" \
	-n cfloor-full-200 "$cfloor full -n 200 /bin/true" \
	-n unshare 'unshare -uimpnC --fork /bin/true' \
	-n nsh-one-shot "$nsh -c 'unshare uts ipc mnt pid net cgroup; spawn /bin/true'" \
	-n nsh-full "$nsh -c '$full; spawn /bin/true'" \
	-n nsh-script-200 "$nsh $work/s200.nsh" \
	-n runc "runc run --bundle $work/bundle nsh-bench" \
	-n bwrap 'bwrap --unshare-all --dev-bind / / /bin/true'

# Every target's cases again, one run of each per round, each round in an
# order of its own (bench/interleave says why): the ratios the targets
# are read from (issue 18: "ratios in one interleaved run").
# hyperfine runs a command's runs back to back, and on this VM a batch's
# median moved by a quarter, once by half, between two runs minutes apart
# (the kernel cleans up the network namespaces of the batch before it
# meanwhile, and the hypervisor's neighbours come and go).
go build -o "$work/interleave" ./bench/interleave
"$work/interleave" -runs "$runs" -o "$out/interleaved.json" \
	"unshare=unshare -uimpnC --fork /bin/true" \
	"nsh-one-shot=$nsh -c 'unshare uts ipc mnt pid net cgroup; spawn /bin/true'" \
	"cfloor-one-shot=$cfloor oneshot /bin/true" \
	"floor-cchild-one-shot=$floorcgo cchild-oneshot /bin/true" \
	"floor-libs-cchild-one-shot=$floorcgolibs cchild-oneshot /bin/true" \
	"floor-stage-one-shot=$floorcgo stage-oneshot /bin/true" \
	"nsh-full=$nsh -c '$full; spawn /bin/true'" \
	"cfloor-full=$cfloor full /bin/true" \
	"floor-cchild-full=$floorcgo cchild-full /bin/true" \
	"runc=runc run --bundle $work/bundle nsh-bench" \
	"nsh-script-200=$nsh $work/s200.nsh" \
	"cfloor-full-200=$cfloor full -n 200 /bin/true" \
	"floor-cchild-full-200=$floorcgo cchild-full -n 200 /bin/true" \
	"nsh-startup=$nsh --version" \
	"floor-libs-hello=$floorlibs" \
	"floor-hello=$floor hello"

# crun 1.8 refuses a hybrid host whose cgroup2 mount lists controllers. In a
# mount namespace of its own (the host's mounts stay as they are) the
# unified mount is taken away, and all three runtimes are measured again on
# the same, pure v1, view: in one hyperfine run, then interleaved.
unshare -m --propagation private sh -c "
	umount /sys/fs/cgroup/unified 2>/dev/null || true
	hyperfine -N --warmup 5 --runs $runs --export-json $out/v1.json \
		-n unshare 'unshare -uimpnC --fork /bin/true' \
		-n nsh-full \"$nsh -c '$full; spawn /bin/true'\" \
		-n floor-full '$floor full /bin/true' \
		-n floor-stage-full '$floorcgo stage-full /bin/true' \
		-n cfloor-full '$cfloor full /bin/true' \
		-n floor-cchild-full '$floorcgo cchild-full /bin/true' \
		-n runc 'runc run --bundle $work/bundle nsh-bench-v1' \
		-n crun 'crun run --bundle $work/bundle nsh-bench-v1'
	$work/interleave -runs $runs -o $out/interleaved-v1.json \
		'unshare=unshare -uimpnC --fork /bin/true' \
		\"nsh-full=$nsh -c '$full; spawn /bin/true'\" \
		'cfloor-full=$cfloor full /bin/true' \
		'floor-cchild-full=$floorcgo cchild-full /bin/true' \
		'runc=runc run --bundle $work/bundle nsh-bench-v1' \
		'crun=crun run --bundle $work/bundle nsh-bench-v1'
"

# Peak RSS (max resident set, KB) of nsh itself.
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
{
	echo "nsh-one-shot $(rss "$nsh" -c 'unshare uts ipc mnt pid net cgroup; spawn /bin/true')"
	echo "nsh-script-200 $(rss "$nsh" "$work/s200.nsh")"
	echo "nsh-script-1000 $(rss "$nsh" "$work/s1000.nsh")"
	echo "unshare $(rss unshare -uimpnC --fork /bin/true)"
} > "$out/rss.txt"

go run ./bench/report "$out"
