"""Jupyter Kernel Gateway's KERNEL_* environment, for Debian's jupyter-server (test/helpers/jupyter.ts).

Kernel Gateway (and Enterprise Gateway) start a kernel with the ``KERNEL_*`` keys of the creation request's
``env`` in its environment; that is what Knox's JkgDispatch relies on when it sets ``env.KERNEL_USERNAME`` to the
authenticated user. Debian's jupyter-server 1.23 serves the same kernels REST API and channels WebSocket but
ignores ``env``. This extension adds Kernel Gateway's rule, done the way Kernel Gateway's own
``MainKernelHandler.post`` does it (kernel_gateway/services/kernels/handlers.py): a temporary ``partial`` of the
kernel manager's ``start_kernel`` with ``env``. Nothing else of the server changes.
"""
import os
from functools import partial

from jupyter_server.services.kernels.handlers import MainKernelHandler

_original_post = MainKernelHandler.post


async def _post_with_kernel_env(self):
    model = self.get_json_body() or {}
    requested = model.get("env") if isinstance(model.get("env"), dict) else {}
    env = dict(os.environ)
    env.update({k: str(v) for k, v in requested.items() if k.startswith("KERNEL_")})
    km = self.kernel_manager
    start = km.start_kernel
    km.start_kernel = partial(start, env=env)
    try:
        await _original_post(self)
    finally:
        km.start_kernel = start


def _jupyter_server_extension_points():
    return [{"module": "kernel_env"}]


def _load_jupyter_server_extension(serverapp):
    MainKernelHandler.post = _post_with_kernel_env
    serverapp.log.info("kernel_env: KERNEL_* keys of a kernel request's env reach the kernel")
