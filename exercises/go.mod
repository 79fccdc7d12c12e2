module github.com/apiserver-from-scratch/apiserver-from-scratch/exercises

go 1.26
