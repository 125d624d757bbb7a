"""A CPU platform for verl, for ``train_writing_rl.sh --cpu-smoke`` and the end-to-end tests only.

Loaded by the plugin only when ``VERL_PLATFORM=cpu`` (a GPU run never imports this module). It
registers a ``cpu`` entry in verl's platform registry (FSDP2 on CPU with gloo, vLLM's CPU build for
rollout) and replaces two verl functions and torch's ``Tensor.pin_memory``, which assume a GPU, each
with a one-line reason below.
"""

from __future__ import annotations

import os
import types
from contextlib import contextmanager
from typing import Any

import torch
import verl.utils.distributed as dist
import verl.utils.model as model_utils
from transformers import AutoModelForTokenClassification
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry


def _total_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _available_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


class _CPUDeviceModule(types.ModuleType):
    """Stands in for ``torch.cuda``: what verl calls on its device module, answered for the CPU."""

    def __init__(self) -> None:
        super().__init__("writing_rl_cpu_device")

    def __getattr__(self, name: str) -> Any:  # streams, events, synchronize, device_count, ...
        return getattr(torch.cpu, name)

    # memory and caches: nothing to manage on the CPU
    def empty_cache(self) -> None: ...
    def ipc_collect(self) -> None: ...
    def reset_peak_memory_stats(self, device: Any = None) -> None: ...
    def set_per_process_memory_fraction(self, fraction: float, device: Any = None) -> None: ...
    def memory_allocated(self, device: Any = None) -> int: return 0
    def memory_reserved(self, device: Any = None) -> int: return 0
    def max_memory_allocated(self, device: Any = None) -> int: return 0
    def max_memory_reserved(self, device: Any = None) -> int: return 0
    def mem_get_info(self, device: Any = None) -> tuple[int, int]: return _available_memory(), _total_memory()

    # seeding and RNG state map to torch's CPU generator
    def manual_seed(self, seed: int) -> None: torch.manual_seed(seed)
    def manual_seed_all(self, seed: int) -> None: torch.manual_seed(seed)
    def get_rng_state(self, device: Any = None) -> torch.Tensor: return torch.get_rng_state()
    def set_rng_state(self, state: torch.Tensor, device: Any = None) -> None: torch.set_rng_state(state)

    def is_available(self) -> bool: return True
    def current_device(self) -> str: return "cpu"
    def set_device(self, device: Any) -> None: ...
    def get_device_name(self, device: Any = None) -> str: return "cpu"  # verl/utils/flops_counter.py needs a name


CPU_DEVICE = _CPUDeviceModule()


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    """FSDP2 with gloo on the CPU; Ray sees one fake "GPU" per trainer so verl's placement resolves."""

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return CPU_DEVICE

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return True

    def current_device(self) -> Any:
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):  # type: ignore[override]
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return ["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"]

    def is_ipc_supported(self) -> bool:
        return False  # weight sync to vLLM then goes through shared memory

    def cudart(self) -> Any:
        return None


def _install_replacements() -> None:
    original_init = dist.initialize_global_process_group_ray

    def initialize_global_process_group_ray(timeout_second: Any = None, backend: Any = None) -> None:
        # verl builds "cpu:gloo,<device>:<backend>" = "cpu:gloo,cpu:gloo", which torch rejects as a duplicate.
        return original_init(timeout_second=timeout_second, backend="gloo")

    def load_valuehead_model(local_path: str, torch_dtype: Any, model_config: Any, trust_remote_code: bool) -> Any:
        # verl hard-codes flash_attention_2 for the critic's value head; the CPU has only sdpa.
        return AutoModelForTokenClassification.from_pretrained(
            local_path, torch_dtype=torch_dtype, config=model_config, attn_implementation="sdpa",
            trust_remote_code=trust_remote_code,
        )

    def pin_memory(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        # FSDP2 pins the reference model's CPU-offloaded shards, which needs a CUDA driver: nothing to pin here.
        return self

    dist.initialize_global_process_group_ray = initialize_global_process_group_ray
    model_utils.load_valuehead_model = load_valuehead_model
    torch.Tensor.pin_memory = pin_memory  # type: ignore[method-assign]


_install_replacements()
