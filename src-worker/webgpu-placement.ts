import type { DawnAdapterName } from './webgpu-backend';

/**
 * Which Dawn adapter a worker should open. The scheduler hands each GPU slot's worker CUDA_VISIBLE_DEVICES, which
 * Vulkan ignores; so it also passes the GPU's nvidia-smi name and which of the same-named GPUs it is
 * (NORMLAB_GPU_NAME, NORMLAB_GPU_ORDINAL), and the worker asks Dawn for the adapter by name (Dawn's `adapter=`
 * option matches a substring of the adapter's device name and takes the first match).
 *
 * What this cannot do: choose between identical GPUs. Dawn's Node binding selects by name only, so every worker
 * of a box with two identical GPUs opens the first one; the placement then says so in a warning, rather than
 * pretending. (Vulkan loaders ≥ 1.4.304 filter devices with VK_LOADER_DEVICE_ID_FILTER, but by PCI device id,
 * which identical GPUs share.)
 */
export interface AdapterPlacement {
  /** Dawn's `adapter=` value; undefined: Dawn's default adapter. */
  adapterName?: string;
  warning?: string;
}

export function placeAdapter(adapters: readonly DawnAdapterName[], env: NodeJS.ProcessEnv = process.env): AdapterPlacement {
  const wanted = env.NORMLAB_GPU_NAME?.trim();
  if (!wanted) return {};
  const ordinal = Number(env.NORMLAB_GPU_ORDINAL ?? 0);
  const matching = adapters.filter((a) => a.name.includes(wanted) || (a.name.length > 0 && wanted.includes(a.name)));
  if (matching.length === 0) {
    const known = adapters.map((a) => `${a.name} (${a.backend})`).join(', ') || 'none';
    return { warning: `no WebGPU adapter is named like this slot's GPU "${wanted}" (adapters: ${known}); using Dawn's default adapter` };
  }
  const name = matching[0].name;
  if (ordinal > 0 && matching.every((a) => a.name === name)) {
    return {
      adapterName: name,
      warning: `this slot's GPU is "${wanted}" #${ordinal}, but Dawn selects adapters by name only: this worker runs on the first "${name}", as the other slots with that GPU do`,
    };
  }
  return { adapterName: name };
}
