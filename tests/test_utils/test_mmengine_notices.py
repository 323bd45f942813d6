"""tools' runners drop mmengine's FileClient / HardDiskBackend alias notices
(logged by its CheckpointHook in every run) and nothing else."""
import logging
import types

from mmengine.config import Config
from mmengine.fileio import FileClient
from mmengine.logging import MMLogger, print_log

from mmfsod.utils import tools


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _runner_logger(monkeypatch, name):
    logger = MMLogger.get_instance(name, log_level='INFO')
    fake_runner = types.SimpleNamespace(logger=logger)
    monkeypatch.setattr(tools.Runner, 'from_cfg', staticmethod(lambda cfg: fake_runner))
    return logger


def test_build_runner_drops_mmengine_alias_notices(monkeypatch, tmp_path):
    logger = _runner_logger(monkeypatch, 'test_mmengine_notices')
    records = _Records()
    logger.addHandler(records)
    runner = tools.build_runner(Config(dict()))
    tools.build_runner(Config(dict()))  # a second build adds no second filter
    assert sum(isinstance(f, tools.MMEngineAliasFilter) for f in runner.logger.filters) == 1
    # what mmengine's CheckpointHook.before_train does in every run (a new client:
    # mmengine caches them)
    monkeypatch.setattr(FileClient, '_instances', {})
    FileClient.infer_client(None, str(tmp_path))
    print_log('a warning of ours', logger='current', level=logging.WARNING)
    assert records.messages == ['a warning of ours']


def test_without_the_filter_mmengine_logs_the_notices(monkeypatch, tmp_path):
    # the filter is what removes them (this test fails if mmengine stops logging them,
    # and then the filter can go)
    logger = MMLogger.get_instance('test_mmengine_notices_raw', log_level='INFO')
    records = _Records()
    logger.addHandler(records)
    monkeypatch.setattr(FileClient, '_instances', {})
    FileClient.infer_client(None, str(tmp_path))
    assert any(m.startswith('"FileClient" will be deprecated') for m in records.messages)
    assert any(m.startswith('"HardDiskBackend" is the alias') for m in records.messages)
