"""Sample files made on the fly for the tests and the benchmarks (both import them from here,
so bench/ never imports tests/): pictures with chosen EXIF, camera-style JPEG/HEIC containers,
ICC profiles."""
