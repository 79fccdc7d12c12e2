module github.com/apiserver-from-scratch/apiserver-from-scratch/final/e2e/clientgo

go 1.26.0

require (
	k8s.io/api v0.37.1
	k8s.io/apimachinery v0.37.1
	k8s.io/client-go v0.37.1
)
