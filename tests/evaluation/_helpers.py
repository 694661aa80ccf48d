"""Helpers shared by the evaluation tests."""
import json


def load_json(path):
    with open(path) as f:
        return json.load(f)


def gt_as_results(dataset, image_ids=None, score=1.0):
    """Every evaluable ground-truth person (keypoints annotated, not crowd) as a result."""
    return [{'image_id': a['image_id'], 'category_id': 1, 'keypoints': list(a['keypoints']),
             'score': score}
            for a in dataset['annotations']
            if a['num_keypoints'] > 0 and not a.get('iscrowd', 0)
            and (image_ids is None or a['image_id'] in image_ids)]
