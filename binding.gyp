{
  "targets": [
    {
      "target_name": "vaekit_native",
      "sources": [
        "native/addon.cc", "native/config.cc", "native/cpu.cc", "native/engine.cc", "native/pool.cc", "native/elementwise.cc",
        "native/gemm.cc", "native/reduce.cc", "native/shape.cc", "native/likelihood.cc", "native/likelihood_masked.cc", "native/optim.cc",
        "native/conv.cc", "native/conv_gemm.cc", "native/conv_dnnl.cc", "native/conv_step.cc", "native/train_step.cc", "native/rng.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-fno-math-errno", "-fno-trapping-math"],
      "libraries": ["-ldnnl", "-ldl", "-fopenmp"]
    }
  ]
}
