"""Body model of a synthetic person: part labels, joint indices, proportions, poses and the
articulated figure (joint positions in image coordinates once placed)."""
import numpy as np

from ..metadata import COCO

NUM_JOINTS = COCO.num_joints

# Part labels of a person's label map.
TORSO, NECK, HEAD_SKIN, HAIR = 1, 2, 3, 4
L_UPPER_ARM, L_FOREARM, R_UPPER_ARM, R_FOREARM = 5, 6, 7, 8
L_THIGH, L_SHIN, R_THIGH, R_SHIN = 9, 10, 11, 12
L_HAND, R_HAND, L_FOOT, R_FOOT = 13, 14, 15, 16
EYE, NOSE, MOUTH, EAR = 17, 18, 19, 20
MARKER = 21  # MARKER + joint index: the dark disc marking a joint
NUM_LABELS = MARKER + NUM_JOINTS

# COCO joint indices.
(NOSE_JOINT, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST,
 R_WRIST, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE) = range(17)

# Labels under which a joint still counts as seen (its own limb, marker, face...). A joint
# whose pixel shows any other part of the same person is hidden by the own body.
JOINT_OWNER_LABELS = {
    NOSE_JOINT: {HEAD_SKIN, HAIR, NOSE, MOUTH, EYE},
    L_EYE: {HEAD_SKIN, HAIR, EYE, NOSE}, R_EYE: {HEAD_SKIN, HAIR, EYE, NOSE},
    L_EAR: {HEAD_SKIN, HAIR, EAR}, R_EAR: {HEAD_SKIN, HAIR, EAR},
    L_SHOULDER: {TORSO, NECK, L_UPPER_ARM}, R_SHOULDER: {TORSO, NECK, R_UPPER_ARM},
    L_ELBOW: {L_UPPER_ARM, L_FOREARM}, R_ELBOW: {R_UPPER_ARM, R_FOREARM},
    L_WRIST: {L_FOREARM, L_HAND}, R_WRIST: {R_FOREARM, R_HAND},
    L_HIP: {TORSO, L_THIGH}, R_HIP: {TORSO, R_THIGH},
    L_KNEE: {L_THIGH, L_SHIN}, R_KNEE: {R_THIGH, R_SHIN},
    L_ANKLE: {L_SHIN, L_FOOT}, R_ANKLE: {R_SHIN, R_FOOT},
}
# JOINT_OWNER_TABLE[joint, label]: ``label`` under joint ``joint`` leaves it seen.
JOINT_OWNER_TABLE = np.zeros((NUM_JOINTS, 256), dtype=bool)
for _joint, _labels in JOINT_OWNER_LABELS.items():
    JOINT_OWNER_TABLE[_joint, list(_labels)] = True
    JOINT_OWNER_TABLE[_joint, MARKER + _joint] = True
JOINT_OWNER_TABLE[:, 0] = True  # outside the own drawing: nothing of the same person covers it

# Labels textured as shirt and as trousers (more when the sleeves / trousers are long).
SHIRT_LABELS = (TORSO, L_UPPER_ARM, R_UPPER_ARM)
TROUSER_LABELS = (L_THIGH, R_THIGH)

SIDE_LABELS = (  # per side (left, right): upper arm, forearm, hand, thigh, shin, foot
    (L_UPPER_ARM, L_FOREARM, L_HAND, L_THIGH, L_SHIN, L_FOOT),
    (R_UPPER_ARM, R_FOREARM, R_HAND, R_THIGH, R_SHIN, R_FOOT),
)
SIDE_JOINTS = (  # per side: shoulder, elbow, wrist, hip, knee, ankle
    (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP, L_KNEE, L_ANKLE),
    (R_SHOULDER, R_ELBOW, R_WRIST, R_HIP, R_KNEE, R_ANKLE),
)

# Body proportions as fractions of the standing body height; a pair is the width at the
# limb's upper and lower end.
BODY_PROPORTIONS = dict(
    torso_length=0.30, shoulder_width=0.22, hip_width=0.15, upper_arm_length=0.17,
    forearm_length=0.15, thigh_length=0.235, shin_length=0.225, neck_length=0.035,
    head_radius_x=0.052, head_radius_y=0.066, upper_arm_width=(0.060, 0.050),
    forearm_width=(0.048, 0.038), thigh_width=(0.085, 0.064), shin_width=(0.062, 0.046),
    neck_width=0.055, hand_radius=0.030, foot_length=0.065, foot_width=0.038)
_WIDTH_KEYS = ('upper_arm_width', 'forearm_width', 'thigh_width', 'shin_width', 'neck_width')
_LENGTH_KEYS = ('upper_arm_length', 'forearm_length', 'thigh_length', 'shin_length')

POSES = ('stand', 'walk', 'arms_up', 'one_up', 'arms_out', 'hands_hips', 'arms_crossed',
         'reach', 'sit', 'crouch', 'kneel')
POSE_PROBS = np.array([0.18, 0.2, 0.08, 0.1, 0.07, 0.07, 0.06, 0.07, 0.07, 0.05, 0.05])
POSE_PROBS = POSE_PROBS / POSE_PROBS.sum()


def _direction(theta_deg):
    """Unit vector at ``theta`` degrees from straight down, positive towards image +x."""
    t = np.deg2rad(theta_deg)
    return np.array([np.sin(t), np.cos(t)])


def _wrap_degrees(angle):
    """``angle`` (degrees) wrapped into [-180, 180)."""
    return (angle + 180.0) % 360.0 - 180.0


def sample_limb_angles(rng, pose, outward, forward):
    """Absolute limb angles (degrees from down, + towards image +x) per side (left, right).

    ``outward[s]`` is the image-x sign of side ``s``, ``forward`` the facing sign.
    Returns four (2,) arrays: upper arm, forearm, thigh, shin.
    """
    uniform = rng.uniform
    upper_arm, forearm, thigh, shin = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)

    def hanging_arm(s):
        a = uniform(4, 22)
        upper_arm[s], forearm[s] = outward[s] * a, outward[s] * (a - uniform(-4, 20))

    def standing_leg(s):
        a = uniform(1, 10)
        thigh[s], shin[s] = outward[s] * a, outward[s] * (a + uniform(-7, 3))

    def raised_arm(s):
        a = uniform(115, 170)
        upper_arm[s], forearm[s] = outward[s] * a, outward[s] * (a + uniform(-30, 20))

    if pose == 'walk':
        front = int(rng.integers(2))
        back = 1 - front
        thigh[front] = forward * uniform(12, 30)
        shin[front] = thigh[front] - forward * uniform(0, 12)
        thigh[back] = -forward * uniform(8, 25)
        shin[back] = thigh[back] - forward * uniform(10, 45)
        upper_arm[front] = -forward * uniform(8, 30)  # arms swing against the legs
        forearm[front] = upper_arm[front] + forward * uniform(5, 35)
        upper_arm[back] = forward * uniform(8, 30)
        forearm[back] = upper_arm[back] + forward * uniform(10, 50)
    elif pose == 'sit':
        for s in range(2):
            thigh[s] = forward * uniform(65, 100)
            shin[s] = forward * uniform(-15, 15)
            upper_arm[s] = forward * uniform(0, 25)
            forearm[s] = upper_arm[s] + forward * uniform(20, 75)
    elif pose == 'crouch':
        for s in range(2):
            thigh[s] = outward[s] * uniform(40, 75)
            shin[s] = outward[s] * uniform(-25, 5)
            upper_arm[s] = outward[s] * uniform(10, 45)
            forearm[s] = outward[s] * uniform(-35, 30)
    elif pose == 'kneel':
        down = int(rng.integers(2))
        up = 1 - down
        thigh[up] = forward * uniform(60, 95)
        shin[up] = forward * uniform(-10, 10)
        thigh[down] = forward * uniform(-5, 15)
        shin[down] = -forward * uniform(70, 100)
        for s in range(2):
            hanging_arm(s)
    else:
        for s in range(2):
            standing_leg(s)
        if pose == 'stand':
            for s in range(2):
                hanging_arm(s)
        elif pose == 'arms_up':
            for s in range(2):
                raised_arm(s)
        elif pose == 'one_up':
            s = int(rng.integers(2))
            if rng.random() < 0.5:
                raised_arm(s)
            else:  # waving: upper arm sideways, forearm up
                upper_arm[s] = outward[s] * uniform(70, 115)
                forearm[s] = outward[s] * uniform(150, 195)
            hanging_arm(1 - s)
        elif pose == 'arms_out':
            for s in range(2):
                a = uniform(65, 110)
                upper_arm[s], forearm[s] = outward[s] * a, outward[s] * (a + uniform(-35, 35))
        elif pose == 'hands_hips':
            for s in range(2):
                upper_arm[s] = outward[s] * uniform(30, 55)
                forearm[s] = outward[s] * -uniform(30, 65)
        elif pose == 'arms_crossed':
            for s in range(2):
                upper_arm[s] = outward[s] * uniform(3, 15)
                forearm[s] = outward[s] * -uniform(70, 105)
        elif pose == 'reach':
            s = int(rng.integers(2))
            upper_arm[s] = forward * uniform(55, 115)
            forearm[s] = upper_arm[s] + forward * uniform(-10, 30)
            hanging_arm(1 - s)
        else:
            raise ValueError(pose)

    # Per-joint noise within anatomical limits.
    upper_arm = upper_arm + rng.normal(0, 5, 2)
    forearm = forearm + rng.normal(0, 6, 2)
    thigh = thigh + rng.normal(0, 4, 2)
    shin = shin + rng.normal(0, 4, 2)
    forearm = upper_arm + np.clip(_wrap_degrees(forearm - upper_arm), -150, 150)
    shin = thigh + np.clip(_wrap_degrees(shin - thigh), -140, 140)
    return upper_arm, forearm, thigh, shin


class Figure:
    """Geometry of one articulated person (image coordinates once placed).

    Attributes: ``joints`` (17, 2), ``hidden`` (17,) bool (joints hidden by the own head),
    ``sizes`` (:data:`BODY_PROPORTIONS` in pixels), ``height`` (standing body height),
    facing (``yaw``, ``outward``, ``forward``, ``side_order``), trunk (``pelvis``, ``neck``,
    ``up``, ``lateral``, ``width_factor``) and head (``head_center``, ``head_radius_x``,
    ``head_radius_y``, ``tilt``, ``head_yaw``).
    """

    def __init__(self, rng, height):
        self.height = body_height = float(height)
        sizes = {k: (np.array(v) * body_height if isinstance(v, tuple) else v * body_height)
                 for k, v in BODY_PROPORTIONS.items()}
        self.sizes = sizes
        # Facing: yaw 0 looks at the camera; |yaw| > 90 faces away.
        if rng.random() < 0.85:
            yaw = rng.uniform(-60, 60)
        else:
            yaw = 180 + rng.uniform(-45, 45)
        self.yaw = yaw
        cos_yaw, sin_yaw = np.cos(np.deg2rad(yaw)), np.sin(np.deg2rad(yaw))
        left_outward = 1.0 if cos_yaw > 0 else -1.0  # image-x sign of the person's left side
        self.outward = (left_outward, -left_outward)
        forward = (float(np.sign(sin_yaw)) if abs(sin_yaw) > 0.2
                   else float(rng.choice([-1.0, 1.0])))
        self.forward = forward
        # Nearness of each side to the camera: draw the far side first.
        self.side_order = (0, 1) if -sin_yaw < sin_yaw else (1, 0)
        if abs(sin_yaw) < 0.2:
            self.side_order = tuple(rng.permutation(2))
        self.pose = str(rng.choice(POSES, p=POSE_PROBS))
        lean = float(np.clip(rng.normal(0, 6), -15, 15))
        if self.pose in ('sit', 'crouch', 'kneel'):
            lean = float(np.clip(lean + forward * rng.uniform(0, 12), -20, 20))
        width = 0.55 + 0.45 * abs(cos_yaw)
        self.width_factor = width
        # Thickness and segment length jitter per person (build).
        build = rng.uniform(0.85, 1.2)
        for k in _WIDTH_KEYS:
            sizes[k] = sizes[k] * build
        limb_scale = rng.uniform(0.93, 1.07)
        for k in _LENGTH_KEYS:
            sizes[k] = sizes[k] * limb_scale

        upper_arm, forearm, thigh, shin = sample_limb_angles(rng, self.pose, self.outward,
                                                             forward)
        up = np.array([np.sin(np.deg2rad(lean)), -np.cos(np.deg2rad(lean))])
        lateral = np.array([np.cos(np.deg2rad(lean)), np.sin(np.deg2rad(lean))])
        self.up, self.lateral = up, lateral
        joints = np.zeros((NUM_JOINTS, 2))
        pelvis = np.zeros(2)
        neck = pelvis + up * sizes['torso_length']
        self.pelvis, self.neck = pelvis, neck
        for s in range(2):
            shoulder, elbow, wrist, hip, knee, ankle = SIDE_JOINTS[s]
            joints[shoulder] = (neck + lateral * self.outward[s] * sizes['shoulder_width'] / 2
                                * width)
            joints[hip] = pelvis + lateral * self.outward[s] * sizes['hip_width'] / 2 * width
            joints[elbow] = (joints[shoulder]
                             + _direction(upper_arm[s] - lean) * sizes['upper_arm_length'])
            joints[wrist] = joints[elbow] + _direction(forearm[s] - lean) * sizes['forearm_length']
            joints[knee] = joints[hip] + _direction(thigh[s]) * sizes['thigh_length']
            joints[ankle] = joints[knee] + _direction(shin[s]) * sizes['shin_length']
        self.forearm_dir = [_direction(forearm[s] - lean) for s in range(2)]

        # Head and face.
        tilt = lean + rng.normal(0, 7)
        self.tilt = tilt
        head_up = np.array([np.sin(np.deg2rad(tilt)), -np.cos(np.deg2rad(tilt))])
        self.head_center = neck + head_up * (sizes['neck_length'] + sizes['head_radius_y'])
        self.head_radius_x, self.head_radius_y = sizes['head_radius_x'], sizes['head_radius_y']
        rx, ry = self.head_radius_x, self.head_radius_y
        head_yaw = yaw + rng.normal(0, 15)
        self.head_yaw = head_yaw
        self.hidden = np.zeros(NUM_JOINTS, dtype=bool)  # hidden by the own head
        face = {}  # joint: (offset from the head centre in head coordinates, seen)
        rad = np.deg2rad
        face[NOSE_JOINT] = ((rx * 1.0 * np.sin(rad(head_yaw)), ry * 0.15),
                            np.cos(rad(head_yaw)) > -0.05)
        for joint, side in ((L_EYE, 1), (R_EYE, -1)):
            b = rad(head_yaw + side * 35)
            face[joint] = ((rx * 0.9 * np.sin(b), -ry * 0.15), np.cos(b) > 0.15)
        for joint, side in ((L_EAR, 1), (R_EAR, -1)):
            b = rad(head_yaw + side * 90)
            face[joint] = ((rx * 1.0 * np.sin(b), ry * 0.05), np.cos(b) > -0.3)
        for joint, (offset, seen) in face.items():
            joints[joint] = self.head_point(offset)
            self.hidden[joint] = not seen
        self.joints = joints

    def head_point(self, offset):
        """Image point at ``offset`` (dx, dy) from the head centre in the tilted head's axes."""
        t = np.deg2rad(self.tilt)
        c, s = np.cos(t), np.sin(t)
        return self.head_center + np.array([offset[0] * c - offset[1] * s,
                                            offset[0] * s + offset[1] * c])

    def translate(self, shift):
        """Move the whole figure by ``shift`` (dx, dy) pixels."""
        shift = np.asarray(shift, dtype=np.float64)
        self.joints = self.joints + shift
        self.head_center = self.head_center + shift
        self.pelvis = self.pelvis + shift
        self.neck = self.neck + shift

    def extent(self):
        """Approximate (x0, y0, x1, y1) of the drawn body."""
        rx, ry = self.head_radius_x, self.head_radius_y
        points = np.vstack([self.joints, self.head_center[None] + [[-rx, -ry], [rx, ry]]])
        margin = 0.04 * self.height
        return np.array([points[:, 0].min() - margin, points[:, 1].min() - margin,
                         points[:, 0].max() + margin, points[:, 1].max() + margin])
