{
  "targets": [
    {
      "target_name": "gradpool_native",
      "sources": [
        "src/addon.c",
        "src/linear.c",
        "src/peak.c",
        "src/elementwise.c",
        "src/as_math.c",
        "src/gather.c"
      ],
      "cflags": ["-O3", "-ffp-contract=off", "-std=gnu11", "-fno-fast-math", "-fomit-frame-pointer"],
      "cflags!": ["-O2", "-ffast-math", "-fno-omit-frame-pointer"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-O3", "-ffp-contract=off", "-std=gnu11", "-fno-fast-math"]
      }
    }
  ]
}
