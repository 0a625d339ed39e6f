{
  "targets": [
    {
      "target_name": "cmbn_blas",
      "sources": ["cmbn-blas.cc"],
      "libraries": ["-lopenblas"],
      "cflags_cc": ["-O3"]
    }
  ]
}
