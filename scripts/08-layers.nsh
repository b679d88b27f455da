#!/usr/bin/env nsh
# Layers: docker diff and docker commit, with overlayfs
# How an image becomes a container: read-only lower layers, a writable upper
# layer on top, overlayfs between them (what docker diff and docker commit
# read). Run it as root:  nsh scripts/08-layers.nsh
# Needs busybox-static (apt-get install busybox-static).

goal "how an image's read-only layer and a container's writable layer make one root with overlayfs"
goal "what docker diff and docker commit read: the upper layer, its whiteouts and opaque directories"

needs root "it mounts overlays as a runtime does, without a user namespace"

note "An image: a busybox tree with a few files a container will change"
#: It goes in a scratch directory of the lesson's own (nsh's working
#: directory from now on, removed when the lesson ends).
scratch
rootfs --busybox lower
rootfs off
spawn sh -c 'cd lower && echo hello > etc/motd && echo old > etc/old && echo readme > home/readme'
#: A stamp, to show later that nothing in the image changed after it.
spawn touch stamp


note "The container's root: the image below, never written, and a layer of its own on top"
rootfs lower overlay
unshare pid uts
hostname layered
spawn grep " / " /proc/mounts

note "It adds a file, changes one, deletes one, and replaces a directory"
spawn -d --name box sh -c 'echo new > /newfile; echo changed >> /etc/motd; rm /etc/old; rm -r /home; mkdir /home; echo mine > /home/note'
wait @box

note "docker diff: A added, C changed, D deleted (a whiteout, or a directory made opaque)"
diff @box

note "docker commit: the upper layer as a tar; deletions are OCI whiteouts (.wh.NAME, .wh..wh..opq)"
commit @box layer.tar
rootfs off
spawn tar -tf layer.tar
expect output matches "(?m)^etc/\.wh\.old$"
expect output matches "(?m)^home/\.wh\.\.wh\.\.opq$"

note "docker commit to an image: the image's layer, then the container's, as an OCI image"
#: commit @ID DIR writes an OCI image layout (what podman run oci:DIR and
#: skopeo read). The container's layer carries no time after
#: SOURCE_DATE_EPOCH (0 unless set): committed twice, the same image.
commit @box img
commit @box img2
spawn sh -c 'cmp img/index.json img2/index.json && echo the same image, digest for digest'
expect output contains "the same image"

note "docker run of that image: its layers become the lowers, its command the default"
rootfs --image oci:img
spawn sh -c 'cat /newfile /home/note; ls /etc/old'
expect output matches "^new\nmine\n.*/etc/old.*No such file"
rootfs off


note "The image is as it was: every name, mode, size, time and link target"
#: find lists every file whose contents or attributes changed since the stamp: none.
spawn find lower -newer stamp -o -cnewer stamp
expect status 0
expect output matches "^$"


note "A second container from the same image starts clean: the first one's layer went with it"
rootfs lower overlay
spawn sh -c 'cat /etc/motd /etc/old; ls /newfile'
expect output matches "^hello\nold\n.*/newfile.*No such file"

task "Start a detached container on the image (lower) with an overlay root, the hostname layered and pid and uts namespaces of its own."
hint "rootfs DIR overlay puts a writable layer of the child's own over DIR."
hint "reset, rootfs lower overlay, unshare pid uts, hostname layered, spawn -d sleep inf."
solution reset
solution rootfs lower overlay
solution unshare pid uts
solution hostname layered
solution spawn -d sleep inf
check hostname @last layered
check ns @last differs mnt pid uts

task "In that container, write /greeting, then read it back from a command that enters the container."
hint "enter @ID COMMAND runs in the container's root: what it writes goes to its upper layer."
hint "enter @last sh -c 'echo hi > /greeting', then enter @last cat /greeting."
solution enter @last sh -c 'echo hi > /greeting'
solution enter @last cat /greeting
check status 0
check output contains hi

summary "overlayfs shows the upper layer over the lower ones: writes go up, deletions are whiteouts, the image is never written."
summary "diff lists what the upper layer changed (A, C, D); commit writes it as a tar with OCI whiteouts, an image layer, or with the image below it as an OCI image that rootfs --image and podman run."
