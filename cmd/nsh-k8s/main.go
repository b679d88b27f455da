// Command nsh-k8s writes the Kubernetes Pod for an nsh plan; nsh's
// `export k8s` runs it. It is a program of its own so that nsh never
// links the Kubernetes types, which would double nsh's start-up.
package main

import "nsh/k8s"

func main() { k8s.Main() }
