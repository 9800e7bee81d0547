module github.com/coredns/k8s_event/tools/tree

go 1.26.0

require golang.org/x/mod v0.41.0
