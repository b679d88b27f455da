# A guest-side reproducer for the TCG hang dev/vm.sh avoids with
# thread=single: two shells take signals (get_signal reads the
# freezer_active static key) while an empty v1 freezer cgroup is frozen
# and thawed, each time patching that key's sites. Run as
#   VM_TCG_THREAD=multi VM_CMD="$(cat dev/vm-freezer-flip.sh)" dev/vm.sh v1
# multi-threaded TCG hung within 500 flips (both vCPUs looping on an
# int3 at get_signal+0xa0 that memory no longer holds); thread=single
# ran all 4000.
f=/sys/fs/cgroup/freezer/flip
mkdir "$f"
sh -c 'trap : USR1; while :; do kill -USR1 $$; done' &
a=$!
sh -c 'trap : USR1; while :; do kill -USR1 $$; done' &
b=$!
i=0
start=$(date +%s)
while [ $i -lt 4000 ]; do
	i=$((i + 1))
	echo FROZEN > "$f/freezer.state"
	echo THAWED > "$f/freezer.state"
	[ $((i % 500)) -eq 0 ] && echo "flips $i, $(($(date +%s) - start)) s"
done
kill $a $b
rmdir "$f"
echo "4000 flips in $(($(date +%s) - start)) s"
