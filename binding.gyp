{
  "targets": [
    {
      "target_name": "tsshim_native",
      "sources": ["native/tsshim_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
