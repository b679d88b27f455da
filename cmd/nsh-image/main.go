// nsh-image reads and writes container images for nsh (rootfs --image,
// commit @ID DIR). nsh starts it; it is not run by hand.
package main

import "nsh/image"

func main() { image.Main() }
