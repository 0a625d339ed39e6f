{
  "targets": [
    {
      "target_name": "cmbn_blas",
      "sources": ["cmbn-blas.cc", "sparse-group.cc"],
      "libraries": ["-lopenblas"],
      "cflags_cc": ["-O3"]
    }
  ]
}
