module github.com/apiserver-from-scratch/apiserver-from-scratch

go 1.26
