"""``hf-rnn app``: the comparison web app (two models side by side, both attention maps)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("app", help="serve the comparison web app on 127.0.0.1",
                       description="Serve the Gradio app that compares two models (a trained run and the built-in "
                                   "SmolLM2 zero-shot, or two runs) on one input, with both attention maps. It "
                                   "listens on 127.0.0.1 (this machine only) unless --host says otherwise, and "
                                   "never makes a share link.")
    p.add_argument("--runs", default="runs", metavar="DIR", help="folder with trained run folders (default: runs)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 exposes the app to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--llm", metavar="NAME_OR_DIR", default=None,
                   help="zero-shot LLM folder (default: the built-in SmolLM2-135M-Instruct)")
    p.add_argument("--llm-dtype", choices=("float32", "bfloat16"), default="float32",
                   help="the LLMs' number format (default float32, the evaluation's numbers; bfloat16 pays only "
                        "on a CPU with bf16 units (AVX-512 BF16, AMX) or a GPU, and moves the probabilities a "
                        "little: the README's Performance section has both measured)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per request (default 1: concurrent requests use separate cores)")
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import time

    from hf_rnn.errors import ConfigError

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535; got {args.port}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be at least 1; got {args.threads}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from hf_rnn.app.ui import launch

    try:
        demo, url, service = launch(args.runs, args.host, args.port, llm=args.llm, llm_dtype=args.llm_dtype,
                                    threads=args.threads, block=False, quiet=True)
    except OSError as e:
        reason = str(e).split(". ")[0] if str(e) else type(e).__name__
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({reason}); is another app using it? "
                          "Pass another --port") from None
    print(f"hf-rnn app: serving {url} (runs from {os.path.abspath(args.runs)}); Ctrl+C stops it", flush=True)
    try:
        while demo.is_running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("hf-rnn app: stopping", flush=True)
    finally:
        demo.close()
        service.close()
    return 0
