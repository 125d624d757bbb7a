"""Install Writing-RL: the `writing_rl` package, its verl plugin and the `writing-rl` CLI."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

# verl's reward loop and v1 trainer import these on any machine; `verl[verl-core]`
# would also pull GPU-only packages (torchcodec, nvtx), so the CPU-safe ones are listed here.
VERL_CPU_RUNTIME = ["TransferQueue>=0.1.10", "cachetools", "fastapi", "uvicorn", "msgspec", "pyzmq"]

setup(
    name="writing-rl",
    version="0.1.0",
    description="Reinforcement learning for long-form writing on verl: pairwise LLM-judge rewards, "
    "Dynamic Reference Scheduling and Margin-aware Data Selection.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["writing_rl", "writing_rl.*"]),
    package_data={"writing_rl": ["prompts/*.txt", "prompts/*.md"]},
    include_package_data=True,
    install_requires=[
        "verl==0.9.1",
        "openai>=1.40",
        "dashscope>=1.20",
        "aiohttp>=3.9",
        "numpy",
        "pandas",
        "pyarrow>=19.0.0",
        "pyyaml",
        "tqdm",
        "wandb",
        "matplotlib",
        "hydra-core",
        "omegaconf",
        *VERL_CPU_RUNTIME,
    ],
    extras_require={
        # Training nodes: verl's own pins for vLLM rollout and the FSDP engine. verl[fsdp] pins flash-attn==2.8.3,
        # a source-only package on PyPI: install torch first and build it with --no-build-isolation (README, GPU
        # requirements), so this extra never triggers an isolated build that cannot import torch.
        "gpu": ["verl[vllm,fsdp]==0.9.1"],
        "test": ["pytest>=8", "ruff>=0.5", "tokenizers>=0.19"],
    },
    entry_points={
        "verl.plugins": ["writing_rl = writing_rl.plugin"],
        "console_scripts": ["writing-rl = writing_rl.cli.main:main"],
    },
)
