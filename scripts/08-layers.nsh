#!/usr/bin/env nsh
# Layers: docker diff and docker commit, with overlayfs
# How an image becomes a container: read-only lower layers, a writable upper
# layer on top, overlayfs between them (what docker diff and docker commit
# read). Run it as root:  nsh scripts/08-layers.nsh
# Needs busybox-static (apt-get install busybox-static).

note "An image: a busybox tree with a few files a container will change"
#: (What an earlier run stopped half-way left goes first.)
spawn rm -rf /tmp/nsh-08
rootfs --busybox /tmp/nsh-08/lower
rootfs off
spawn sh -c 'cd /tmp/nsh-08/lower && echo hello > etc/motd && echo old > etc/old && echo readme > home/readme'
#: A stamp, to show later that nothing in the image changed after it.
spawn touch /tmp/nsh-08/stamp


note "The container's root: the image below, never written, and a layer of its own on top"
rootfs /tmp/nsh-08/lower overlay
unshare pid uts
hostname layered
spawn grep " / " /proc/mounts

note "It adds a file, changes one, deletes one, and replaces a directory"
spawn -d --name box sh -c 'echo new > /newfile; echo changed >> /etc/motd; rm /etc/old; rm -r /home; mkdir /home; echo mine > /home/note'
wait @box

note "docker diff: A added, C changed, D deleted (a whiteout, or a directory made opaque)"
diff @box

note "docker commit: the upper layer as a tar; deletions are OCI whiteouts (.wh.NAME, .wh..wh..opq)"
commit @box /tmp/nsh-08/layer.tar
rootfs off
spawn tar -tf /tmp/nsh-08/layer.tar
expect output matches "(?m)^etc/\.wh\.old$"
expect output matches "(?m)^home/\.wh\.\.wh\.\.opq$"


note "The image is as it was: every name, mode, size, time and link target"
#: find lists every file whose contents or attributes changed since the stamp: none.
spawn find /tmp/nsh-08/lower -newer /tmp/nsh-08/stamp -o -cnewer /tmp/nsh-08/stamp
expect status 0
expect output matches "^$"


note "A second container from the same image starts clean: the first one's layer went with it"
rootfs /tmp/nsh-08/lower overlay
spawn sh -c 'cat /etc/motd /etc/old; ls /newfile'
expect output matches "^hello\nold\n.*/newfile.*No such file"


rootfs off
spawn rm -rf /tmp/nsh-08
