/*
 * Link-time stand-ins for TensorRT's runtime libraries, for testing against TensorRT's real Python bindings on a
 * machine without them (no GPU, no CUDA).
 *
 * `tensorrt_bindings/tensorrt.so` (the `tensorrt-cu12-bindings` wheel) is linked against libnvinfer.so.N,
 * libnvinfer_plugin.so.N and libnvonnxparser.so.N and imports only the C functions below from them
 * (`nm -D --undefined-only tensorrt.so`). Each stand-in returns what the real library returns when it cannot start:
 * NULL objects, no plugins, version 0. So `import tensorrt` works with TensorRT's own classes, enums and pybind
 * signatures, and `trt.Builder(logger)` / `trt.Runtime(logger)` raise "factory function returned nullptr", which is
 * what a pip-installed TensorRT says on a machine without a usable GPU.
 *
 * Compiled once per library by tests/tensorrt_real/setup.py: -DSTANDIN_NVINFER, -DSTANDIN_PLUGIN or -DSTANDIN_PARSER.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(STANDIN_NVINFER)
void *createInferBuilder_INTERNAL(void *logger, int32_t version) { (void)logger; (void)version; return NULL; }
void *createInferRuntime_INTERNAL(void *logger, int32_t version) { (void)logger; (void)version; return NULL; }
void *createInferRefitter_INTERNAL(void *engine, void *logger, int32_t version)
{
    (void)engine; (void)logger; (void)version;
    return NULL;
}
void *getPluginRegistry(void) { return NULL; }
void *getBuilderPluginRegistry(int32_t capability) { (void)capability; return NULL; }
#endif

#if defined(STANDIN_PLUGIN)
_Bool initLibNvInferPlugins(void *logger, const char *lib_namespace)
{
    (void)logger; (void)lib_namespace;
    return 0;
}
#endif

#if defined(STANDIN_PARSER)
void *createNvOnnxParser_INTERNAL(void *network, void *logger, int32_t version)
{
    (void)network; (void)logger; (void)version;
    return NULL;
}
void *createNvOnnxParserRefitter_INTERNAL(void *refitter, void *logger, int32_t version)
{
    (void)refitter; (void)logger; (void)version;
    return NULL;
}
int32_t getNvOnnxParserVersion(void) { return 0; }
#endif
