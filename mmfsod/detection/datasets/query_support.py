"""Query-support pairs for training query-aware few-shot detectors."""
import copy
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset, Compose
from mmengine.logging import print_log

from mmfsod.utils.bad_images import (BadImageError, bad_image_error, image_problem,
                                     log_skipped)
from .draws import draw_key, seeded_global_rngs
from .pairing import (check_pairs_possible, draw_negatives, fewer_way_queries,
                      negative_candidates, pair_ways)
from .support_packing import InstanceRef, box_area, pack_supports, support_instance_info


@DATASETS.register_module()
class QuerySupportDataset:
    """Wrap a detection dataset into query-support pairs (N-way K-shot).

    Item ``idx`` is one query image of the wrapped dataset with:

    * its ground truth restricted to one *positive* class, drawn among the
      classes the image has an instance of;
    * K support instances of the positive class, taken from other images
      when any other image has that class (otherwise from the query itself,
      and the class is named in the log at start-up);
    * (N - 1) x K support instances of N - 1 *negative* classes, drawn among
      the classes with supports that have no instance in the query image
      (with repetition when fewer exist). When none is left (the image shows
      every class with supports), the pair has fewer ways: the positive
      class alone, its supports repeated (``is_repeat``) to fill the N x K
      slots. Such images are counted (``num_fewer_way_queries``) and logged
      once at build; a dataset where no image has a negative left is an
      error naming ``num_support_ways``. The rule is
      :mod:`~mmfsod.detection.datasets.pairing`.

    Supports are cut from their images by ``support_pipeline`` (typically
    LoadImageFromFile, LoadAnnotations, :class:`CropSupportInstance`,
    Resize to a longer side of 320, Pad to 320 x 320, PackDetInputs).

    The draw of item ``idx`` in pass ``p`` over the data depends only on
    ``(seed, p, idx)``, and so do the random transforms of its pipelines
    (they run with Python's, numpy's and torch's CPU global generators seeded from
    ``(seed, p, idx)``, restored afterwards, see :func:`draw_key`): items
    are the same whatever the number of workers or ranks, and a sampler that
    gives ranks disjoint indices gives them disjoint items. The pass comes
    with the index: ``dataset[(p, idx)]``, as
    :class:`~mmfsod.detection.datasets.PassInfiniteSampler` (iteration-based
    training) and :class:`~mmfsod.detection.datasets.PassDefaultSampler`
    (epoch-based, the pass is the epoch) yield them; a plain ``dataset[idx]``
    is pass 0, the draw of before passes counted. So every pass draws new
    pairs, supports and augmentations, reproducibly. Indices
    ``[r * Q, (r + 1) * Q)`` (Q queries) are round ``r`` of ``repeat``: the
    same queries with other draws within one pass.

    K-shot pairs: each class of a pair takes K *distinct* instances when it
    has them; the positive class only instances of other images than the
    query's (a K-shot set of K instances, ``n`` of them in the query, gives
    ``K - n``). A class with fewer than K fills the K slots by repeating its
    drawn instances, marked ``is_repeat`` in ``support_instances`` so that
    the detector averages the distinct ones only, as it averages the K
    templates at test.

    An item is ``dict(inputs=(3, H, W) query, data_samples=DetDataSample,
    support_inputs=(N * K, 3, h, w))``; the data sample's metainfo has
    ``query_class`` (the positive label) and its ``support_instances``
    (InstanceData, see :func:`pack_supports`) say which support belongs to
    which class, positives first.

    Args:
        dataset (dict | BaseDataset): the source of queries (its pipeline is
            the query pipeline) and, unless ``support_dataset`` is given, of
            supports.
        support_pipeline (list[dict]): transforms of one support instance.
        num_support_ways (int): N, the positive class included. Defaults to 2.
        num_support_shots (int | None): K. ``None``: the ``shot`` of the
            wrapped dataset's ``few_shot_ann`` (fine-tuning on TFA's K-shot
            files: the paper's K). Defaults to 1.
        repeat (int): rounds of draws over the queries. Defaults to 1.
        seed (int): seed of the draws. Defaults to 0.
        support_dataset (dict | BaseDataset, optional): where supports come
            from (same classes as ``dataset``).
        min_support_area (float): instances whose box area (``w * h``, in
            source-image pixels) is below this are not used as supports; they
            stay in the query ground truth and still mark their class as
            present in the query (so it is never a negative there). The
            support templates chosen at test from this dataset follow the
            same limit. Defaults to 0.
        lazy_init (bool): defer loading the annotations. Defaults to False.
        skip_bad_images (bool): replace an item whose query or support image
            is missing or corrupt by item ``idx + 1`` (then ``idx + 2``, ...),
            counted in ``num_bad_images`` and logged. Defaults to False: a
            ``BadImageError`` naming the file and the dataset.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 support_pipeline: List[dict],
                 num_support_ways: int = 2,
                 num_support_shots: Optional[int] = 1,
                 repeat: int = 1,
                 seed: int = 0,
                 support_dataset: Optional[Union[dict, BaseDataset]] = None,
                 min_support_area: float = 0.0,
                 lazy_init: bool = False,
                 skip_bad_images: bool = False) -> None:
        name = type(self).__name__
        if not isinstance(skip_bad_images, bool):
            raise TypeError(f'{name}.skip_bad_images must be a bool, got '
                            f'{skip_bad_images!r}')
        self.skip_bad_images = skip_bad_images
        self.num_bad_images = 0
        for key, value in (('num_support_ways', num_support_ways),
                           ('num_support_shots', num_support_shots), ('repeat', repeat)):
            if key == 'num_support_shots' and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'{name}.{key} must be an integer >= 1, got {value!r}'
                                 + (' (or None: the shot of few_shot_ann)'
                                    if key == 'num_support_shots' else ''))
        if not isinstance(min_support_area, (int, float)) or not min_support_area >= 0:
            raise ValueError(f'{name}.min_support_area must be a number >= 0, '
                             f'got {min_support_area!r}')
        self.min_support_area = float(min_support_area)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.support_dataset = (self.dataset if support_dataset is None else
                                DATASETS.build(support_dataset)
                                if isinstance(support_dataset, dict) else support_dataset)
        if self.support_dataset.metainfo['classes'] != self.dataset.metainfo['classes']:
            raise ValueError(f'{name}: support_dataset has classes '
                             f'{self.support_dataset.metainfo["classes"]}, the query '
                             f'dataset {self.dataset.metainfo["classes"]}')
        self.support_pipeline = Compose(support_pipeline)
        if num_support_shots is None:
            few_shot_ann = getattr(self.dataset, 'few_shot_ann', None)
            if not few_shot_ann or 'shot' not in few_shot_ann:
                raise ValueError(f'{name}.num_support_shots=None takes K from the wrapped '
                                 f'dataset\'s few_shot_ann=dict(shot=K, ...); '
                                 f'{type(self.dataset).__name__} has none: give '
                                 'num_support_shots=K')
            num_support_shots = int(few_shot_ann['shot'])
        self.num_support_ways = num_support_ways
        self.num_support_shots = num_support_shots
        self.repeat = repeat
        self.seed = int(seed)
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Index the queries and the support instances of every class."""
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self.support_dataset.full_init()
        classes = self._metainfo['classes']
        # label -> instances usable as supports; label -> their image ids
        self.support_pool: Dict[int, List[InstanceRef]] = defaultdict(list)
        pool_imgs: Dict[int, list] = defaultdict(list)
        support_imgs: Dict[int, set] = defaultdict(set)
        self.num_small_supports = 0
        for i in range(len(self.support_dataset)):
            info = self.support_dataset.get_data_info(i)
            for j, inst in enumerate(info['instances']):
                if inst.get('ignore_flag', 0):
                    continue
                if box_area(inst['bbox']) < self.min_support_area:
                    self.num_small_supports += 1
                else:
                    self.support_pool[inst['bbox_label']].append((i, j))
                    pool_imgs[inst['bbox_label']].append(info['img_id'])
                    support_imgs[inst['bbox_label']].add(info['img_id'])
        self.support_pool = dict(self.support_pool)
        # label -> image id of each pool instance, (P,)
        self.support_pool_img_ids = {k: np.array(v) for k, v in pool_imgs.items()}
        self.support_img_ids = {k: frozenset(v) for k, v in support_imgs.items()}
        # queries: images with an instance of a class that has supports
        self.query_indices: List[int] = []
        self.query_classes: List[Tuple[int, ...]] = []
        self.query_present: List[frozenset] = []
        self.query_img_ids: List[int] = []
        skipped = 0
        for i in range(len(self.dataset)):
            info = self.dataset.get_data_info(i)
            present = {inst['bbox_label'] for inst in info['instances']}
            positives = tuple(sorted(
                {inst['bbox_label'] for inst in info['instances']
                 if not inst.get('ignore_flag', 0)} & set(self.support_pool)))
            if not positives:
                skipped += 1
                continue
            self.query_indices.append(i)
            self.query_classes.append(positives)
            self.query_present.append(frozenset(present))
            self.query_img_ids.append(info['img_id'])
        self.num_skipped_queries = skipped
        if not self.query_indices:
            raise ValueError(f'{type(self).__name__}: no query image has an instance of '
                             f'a class with supports (classes {list(classes)})')
        # the pairing rule (pairing.py): queries left without a negative class
        fewer = fewer_way_queries(self.support_pool, self.query_present,
                                  self.num_support_ways)
        self.num_fewer_way_queries = len(fewer)
        example = (self.dataset.get_data_info(self.query_indices[fewer[0]])['img_path']
                   if fewer else None)
        check_pairs_possible(len(self.query_indices), len(fewer), self.num_support_ways,
                             [classes[k] for k in sorted(self.support_pool)],
                             type(self).__name__, example)
        no_support = [classes[k] for k in range(len(classes)) if k not in self.support_pool]
        single = [classes[k] for k, v in self.support_img_ids.items() if len(v) == 1]
        print_log(f'{type(self).__name__}: {len(self.query_indices)} queries x {self.repeat} '
                  f'rounds, {self.num_support_ways}-way {self.num_support_shots}-shot; '
                  f'skipped {skipped} images without an instance of a class with supports'
                  + (f'; {self.num_small_supports} instances below min_support_area='
                     f'{self.min_support_area:g} not used as supports'
                     if self.num_small_supports else '')
                  + (f'; classes without supports: {no_support}' if no_support else '')
                  + (f'; classes in one image only (their supports may come from the '
                     f'query itself): {single}' if single else ''), logger='current')
        if fewer:
            print_log(f'{type(self).__name__}: {len(fewer)} of {len(self.query_indices)} '
                      f'query images show every class with supports (e.g. {example}): '
                      f'no negative class is left for them, their pairs are 1-way (the '
                      f'positive class only) instead of {self.num_support_ways}-way '
                      '(the pairing rule, docs/custom_dataset.md)', logger='current')
        self._fully_initialized = True

    # the pass samplers may give this dataset (pass, idx) pairs
    accepts_pass_index = True

    def __len__(self) -> int:
        self.full_init()
        return self.repeat * len(self.query_indices)

    def split_index(self, index: Union[int, Sequence[int]]) -> Tuple[int, int]:
        """``(pass, idx)`` of an index: an int is pass 0; a pair ``(pass,
        idx)`` comes from a pass sampler."""
        if isinstance(index, (tuple, list)) and len(index) == 2:
            pass_, idx = index
        else:
            pass_, idx = 0, index
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in (pass_, idx)) or pass_ < 0:
            raise TypeError(f'{type(self).__name__} index must be an int or a (pass >= 0, '
                            f'idx) pair of ints, got {index!r}')
        return int(pass_), int(idx)

    def _query_index(self, idx: int) -> int:
        if not -len(self) <= idx < len(self):
            raise IndexError(f'{type(self).__name__} index {idx} out of range '
                             f'({len(self)} items)')
        return idx % len(self.query_indices)

    def get_data_info(self, index: Union[int, Sequence[int]]) -> dict:
        """The source data info of item ``index``'s query (whole ground
        truth); ``index`` an int or ``(pass, idx)``."""
        _, idx = self.split_index(index)
        return self.dataset.get_data_info(self.query_indices[self._query_index(idx)])

    # ------------------------------------------------------------------ draws
    def sample_pair(self, index: Union[int, Sequence[int]]) -> dict:
        """The draw of item ``index`` (an int: pass 0, or ``(pass, idx)``;
        no image is read): ``query_index`` (in the source dataset),
        ``query_class``, ``supports``: a list of ``(label, (image index,
        instance index), is_positive)``, ``is_repeat``: per support,
        whether it repeats an earlier one of its class (a class with fewer
        than K distinct instances, or the filled slots of a pair with fewer
        ways), and ``num_ways``: N, or 1 when the query has no negative class
        left (:func:`~mmfsod.detection.datasets.pairing.pair_ways`)."""
        pass_, idx = self.split_index(index)
        q = self._query_index(idx)
        rng = np.random.default_rng(draw_key(self.seed, idx % len(self), 0, pass_))
        positives = self.query_classes[q]
        pos = int(positives[rng.integers(len(positives))])
        query_index = self.query_indices[q]
        negatives = negative_candidates(self.support_pool, self.query_present[q])
        ways = pair_ways(self.num_support_ways, len(negatives))
        neg = draw_negatives(rng, negatives, ways)
        supports, is_repeat = [], []
        k = self.num_support_shots
        for label, is_pos in [(pos, True)] + [(c, False) for c in neg]:
            candidates = np.arange(len(self.support_pool[label]))
            if is_pos:  # not from the query image itself, unless nothing else
                others = candidates[self.support_pool_img_ids[label]
                                    != self.query_img_ids[q]]
                candidates = others if len(others) else candidates
            # up to K distinct instances; fewer fill the K slots by repetition
            picks = list(rng.choice(candidates, min(k, len(candidates)), replace=False))
            distinct = len(picks)
            picks += [picks[i % distinct] for i in range(distinct, k)]
            supports += [(label, self.support_pool[label][int(p)], is_pos) for p in picks]
            is_repeat += [i >= distinct for i in range(k)]
        # fewer ways: the positive's supports fill the slots of the missing
        # classes, so that every item has N x K supports
        missing = self.num_support_ways * k - len(supports)
        supports += [supports[i % k] for i in range(missing)]
        is_repeat += [True] * missing
        return dict(query_index=query_index, query_class=pos, supports=supports,
                    is_repeat=is_repeat, num_ways=ways)

    def __getitem__(self, index: Union[int, Sequence[int]]) -> dict:
        """Item ``index``: an int (pass 0) or ``(pass, idx)``."""
        self.full_init()
        pass_, idx = self.split_index(index)
        if not self.skip_bad_images:
            return self._seeded_item(pass_, idx)
        for k in range(len(self)):
            try:
                return self._seeded_item(pass_, (idx + k) % len(self))
            except BadImageError as err:
                log_skipped(self, err)
        raise BadImageError(f'{type(self).__name__}: no item has readable images')

    def _seeded_item(self, pass_: int, idx: int) -> dict:
        self._query_index(idx)  # IndexError before any draw
        with seeded_global_rngs(draw_key(self.seed, idx % len(self), 1, pass_)):
            try:
                return self._load_item(pass_, idx)
            except BadImageError:
                raise
            except Exception as exc:
                self._raise_bad_image(pass_, idx, exc)
                raise

    def _raise_bad_image(self, pass_: int, idx: int, exc: Exception) -> None:
        """A :class:`BadImageError` if an image of item ``idx`` (its query
        or one of its supports) is missing or corrupt."""
        draw = self.sample_pair((pass_, idx))
        paths = [('the query', self.dataset, draw['query_index'])] + [
            ('a support', self.support_dataset, i) for _, (i, _), _ in draw['supports']]
        for what, dataset, i in paths:
            path = dataset.get_data_info(i)['img_path']
            problem = image_problem(path)
            if problem is not None:
                raise bad_image_error(
                    f'{type(self).__name__} (of {type(dataset).__name__})', path,
                    problem, f'{what} of item {idx}') from exc

    def _load_item(self, pass_: int, idx: int) -> dict:
        draw = self.sample_pair((pass_, idx))
        pos = draw['query_class']
        info = copy.deepcopy(self.dataset.get_data_info(draw['query_index']))
        info['instances'] = [inst for inst in info['instances']
                             if inst['bbox_label'] == pos]
        query = self.dataset.pipeline(info)
        if query is None:
            raise RuntimeError(f'{type(self).__name__}: the query pipeline dropped '
                               f'{info["img_path"]}')
        packed, refs, done = [], [], {}
        for (label, (i, j), is_pos), repeat in zip(draw['supports'], draw['is_repeat']):
            if repeat:  # the same instance again: its pipeline output again
                k = done[(label, i, j)]
                packed.append(packed[k])
                refs.append(refs[k])
                continue
            sinfo = support_instance_info(self.support_dataset.get_data_info(i), j)
            refs.append(dict(label=label, img_id=sinfo['img_id'],
                             ann_id=sinfo['ann_id'], is_positive=is_pos))
            out = self.support_pipeline(sinfo)
            if out is None:
                raise RuntimeError(f'{type(self).__name__}: the support pipeline dropped '
                                   f'an instance of {sinfo["img_path"]}')
            done.setdefault((label, i, j), len(packed))
            packed.append(out)
        inputs, support_info = pack_supports(packed, refs, type(self).__name__)
        support_info.is_repeat = torch.tensor(draw['is_repeat'], dtype=torch.bool)  # (S,)
        sample = query['data_samples']
        sample.set_metainfo(dict(query_class=pos))
        sample.support_instances = support_info
        return dict(inputs=query['inputs'], data_samples=sample, support_inputs=inputs)
