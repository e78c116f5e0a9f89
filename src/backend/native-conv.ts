// Convolution kernels of the native backend (native/conv.cc): registered onto the native backend.
export function registerConvKernels(_backendName: string, _addon: any): string[] {
  return [];
}
