"""Runs tools/train.py and SIGKILLs its own process in the middle of a
checkpoint write (for tests/test_engine/test_kill_resume.py).

    python kill_driver.py N FRACTION train.py-args...

The N-th checkpoint (``.pth``) this process writes gets ``FRACTION`` of its
bytes into the temporary file, then the process is killed with SIGKILL (no
clean-up runs), as a kill during the write would leave it.
"""
import os
import os.path as osp
import runpy
import signal
import sys

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, REPO)


def main():
    target, fraction = int(sys.argv[1]), float(sys.argv[2])
    from mmengine.fileio.backends.local_backend import LocalBackend

    import mmfsod  # noqa: F401  (installs the atomic put)
    from mmfsod.compat.atomic import atomic_open
    put = LocalBackend.put
    count = [0]

    def put_then_die(self, obj, filepath):
        if str(filepath).endswith('.pth'):
            count[0] += 1
            if count[0] == target:
                with atomic_open(str(filepath), 'wb') as f:
                    f.write(obj[:int(len(obj) * fraction)])
                    f.flush()
                    print(f'kill_driver: SIGKILL while writing {filepath}', flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
        return put(self, obj, filepath)

    LocalBackend.put = put_then_die
    sys.argv = [osp.join(REPO, 'tools', 'train.py')] + sys.argv[3:]
    runpy.run_path(sys.argv[0], run_name='__main__')


if __name__ == '__main__':
    main()
