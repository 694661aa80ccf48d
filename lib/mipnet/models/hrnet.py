"""HRNet for top-down pose, with MIPNet's optional λ modulation blocks.

One class serves both registered models: ``pose_hrnet`` is this network with no λ blocks
(its state_dict equals the official HRNet's), ``pose_hrnet_se_lambda`` adds
``stage1_se``..``stage4_se`` where ``se_modules`` asks for them (official MIPNet names).

The forward pass is a chain of five steps separated by four places where a λ block may sit::

    stem+layer1+transition1 |0| stage2+transition2 |1| stage3+transition3 |2| stage4 |3| final

Everything before the first enabled place does not depend on λ; :meth:`forward_instances`
runs that trunk once per image and only the rest once per instance.
"""
import logging
import os

from torch import nn

from mipnet.models.lambda_blocks import SELambdaLayer, SELambdaModule, one_hot_lambda

logger = logging.getLogger(__name__)

BN_MOMENTUM = 0.1


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        # In place: out is this block's own tensor and BatchNorm's backward does not need it.
        out += residual
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += residual
        return self.relu(out)


BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}


def _downsample(inplanes, outplanes, stride):
    return nn.Sequential(
        nn.Conv2d(inplanes, outplanes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(outplanes, momentum=BN_MOMENTUM),
    )


def _make_layer(block, inplanes, planes, num_blocks, stride=1):
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = _downsample(inplanes, planes * block.expansion, stride)
    layers = [block(inplanes, planes, stride, downsample)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of residual blocks followed by sum fusion across resolutions."""

    def __init__(self, num_branches, block, num_blocks, num_inchannels, num_channels,
                 multi_scale_output=True):
        super().__init__()
        for name, seq in (('NUM_BLOCKS', num_blocks), ('NUM_CHANNELS', num_channels),
                          ('NUM_INCHANNELS', num_inchannels)):
            if len(seq) != num_branches:
                raise ValueError(f'HRNet stage: NUM_BRANCHES={num_branches} but {name} has '
                                 f'{len(seq)} entries')
        self.num_branches = num_branches
        self.multi_scale_output = multi_scale_output
        self.branches = nn.ModuleList(
            _make_layer(block, num_inchannels[i], num_channels[i], num_blocks[i])
            for i in range(num_branches))
        self.num_inchannels = [c * block.expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers()
        self.relu = nn.ReLU(True)

    def _make_fuse_layers(self):
        if self.num_branches == 1:
            return None
        chans = self.num_inchannels
        fuse_layers = []
        for i in range(self.num_branches if self.multi_scale_output else 1):
            row = []
            for j in range(self.num_branches):
                if j > i:
                    row.append(nn.Sequential(
                        nn.Conv2d(chans[j], chans[i], 1, 1, 0, bias=False),
                        nn.BatchNorm2d(chans[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode='nearest')))
                elif j == i:
                    row.append(None)
                else:
                    downs = []
                    for k in range(i - j):
                        last = k == i - j - 1
                        out_c = chans[i] if last else chans[j]
                        layers = [nn.Conv2d(chans[j], out_c, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(out_c)]
                        if not last:
                            layers.append(nn.ReLU(True))
                        downs.append(nn.Sequential(*layers))
                    row.append(nn.Sequential(*downs))
            fuse_layers.append(nn.ModuleList(row))
        return nn.ModuleList(fuse_layers)

    def forward(self, x):
        """x: list of per-branch tensors; returns the fused list (one entry if not multi-scale)."""
        x = [branch(t) for branch, t in zip(self.branches, x)]
        if self.num_branches == 1:
            return x
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = None
            for j in range(self.num_branches):
                if j != i:
                    # The first sum is a new tensor (x[i] is the branch output, still needed by
                    # the other rows); later terms add into it in place, in the same order.
                    if y is None:
                        y = x[i] + row[j](x[j])
                    else:
                        y += row[j](x[j])
            out.append(self.relu(y))
        return out


def _make_transition(pre_channels, cur_channels):
    layers = []
    for i, cur in enumerate(cur_channels):
        if i < len(pre_channels):
            if cur != pre_channels[i]:
                layers.append(nn.Sequential(
                    nn.Conv2d(pre_channels[i], cur, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(cur), nn.ReLU(inplace=True)))
            else:
                layers.append(None)
        else:
            downs = []
            for j in range(i + 1 - len(pre_channels)):
                in_c = pre_channels[-1]
                out_c = cur if j == i - len(pre_channels) else in_c
                downs.append(nn.Sequential(nn.Conv2d(in_c, out_c, 3, 2, 1, bias=False),
                                           nn.BatchNorm2d(out_c), nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*downs))
    return nn.ModuleList(layers)


def _apply_transition(transition, y_list):
    """Branch i takes y_list[i] (or the lowest resolution output for new branches)."""
    return [y_list[i] if t is None and i < len(y_list) else t(y_list[min(i, len(y_list) - 1)])
            for i, t in enumerate(transition)]


class PoseHighResolutionNet(nn.Module):
    """HRNet pose network; λ blocks where ``se_modules`` asks.

    Args:
        extra: ``MODEL.EXTRA`` mapping (STAGE2..4, FINAL_CONV_KERNEL, PRETRAINED_LAYERS).
        num_joints: heatmap channels J.
        se_modules: four booleans: λ block before stage 2, 3, 4, and after stage 4.
        num_instances: N, the λ vector length.
        lambda_identity_start: λ blocks in the identity-start form
            (:class:`mipnet.models.lambda_blocks.SELambdaLayer`; ``MODEL.LAMBDA_IDENTITY_START``).
    """

    NUM_PLACES = 4

    def __init__(self, extra, num_joints, se_modules=(False,) * 4, num_instances=2,
                 lambda_identity_start=False):
        super().__init__()
        self.lambda_identity_start = bool(lambda_identity_start)
        se_modules = tuple(bool(s) for s in se_modules) + (False,) * (4 - len(se_modules))
        self.se_config = se_modules
        self.num_instances = num_instances
        self.num_joints = num_joints
        self.pretrained_layers = list(extra.get('PRETRAINED_LAYERS', ['*']))

        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _make_layer(Bottleneck, 64, 64, 4)

        pre = [256]
        stage_channels = []
        for idx in (2, 3, 4):
            scfg = extra[f'STAGE{idx}']
            block = BLOCKS[scfg['BLOCK']]
            channels = [c * block.expansion for c in scfg['NUM_CHANNELS']]
            stage_channels.append(channels)
            setattr(self, f'transition{idx - 1}', _make_transition(pre, channels))
            stage, pre = self._make_stage(scfg, channels, multi_scale_output=idx != 4)
            setattr(self, f'stage{idx}', stage)

        kernel = extra['FINAL_CONV_KERNEL']
        self.final_layer = nn.Conv2d(pre[0], num_joints, kernel_size=kernel, stride=1,
                                     padding=1 if kernel == 3 else 0)

        # λ blocks at the four places; reference names stage1_se..stage4_se.
        place_channels = stage_channels + [[stage_channels[2][0]]]
        for place in range(self.NUM_PLACES):
            module = SELambdaModule(place_channels[place], num_instances,
                                    identity_start=lambda_identity_start) \
                if se_modules[place] else None
            setattr(self, f'stage{place + 1}_se', module)

    @staticmethod
    def _make_stage(scfg, num_inchannels, multi_scale_output=True):
        block = BLOCKS[scfg['BLOCK']]
        modules = []
        for i in range(scfg['NUM_MODULES']):
            last = i == scfg['NUM_MODULES'] - 1
            modules.append(HighResolutionModule(
                scfg['NUM_BRANCHES'], block, scfg['NUM_BLOCKS'], num_inchannels,
                scfg['NUM_CHANNELS'], multi_scale_output or not last))
            num_inchannels = modules[-1].num_inchannels
        return nn.Sequential(*modules), num_inchannels

    # ---- the five steps of the forward pass; λ place p sits before step p + 1 ---------
    def _stem(self, images):
        """stem + layer1 + transition1: (B, 3, H, W) -> the stage-2 branch inputs."""
        x = self.relu(self.bn1(self.conv1(images)))
        x = self.relu(self.bn2(self.conv2(x)))
        return _apply_transition(self.transition1, [self.layer1(x)])

    def _through_stage2(self, x):
        return _apply_transition(self.transition2, self.stage2(x))

    def _through_stage3(self, x):
        return _apply_transition(self.transition3, self.stage3(x))

    def _through_stage4(self, x):
        return self.stage4(x)

    def _head(self, x):
        """Highest-resolution branch -> (B, J, H/4, W/4) heatmaps."""
        return self.final_layer(x[0])

    def _steps(self):
        return (self._stem, self._through_stage2, self._through_stage3, self._through_stage4,
                self._head)

    def _lambda_blocks(self):
        """The λ block (or None) of each place 0..3."""
        return (self.stage1_se, self.stage2_se, self.stage3_se, self.stage4_se)

    def _run(self, x, lambda_vec, first_step):
        """Run steps ``first_step``..4, applying the λ blocks in between."""
        blocks = self._lambda_blocks()
        for index, step in enumerate(self._steps()[first_step:], start=first_step):
            if index > 0 and blocks[index - 1] is not None:
                x = blocks[index - 1](x, lambda_vec)
            x = step(x)
        return x

    @property
    def uses_lambda(self):
        return any(self.se_config)

    @property
    def first_lambda_place(self):
        """Index (0..3) of the first λ block, or None for plain HRNet."""
        return next((i for i, on in enumerate(self.se_config) if on), None)

    def forward(self, images, lambda_vec=None, instances=None, shared_trunk=True):
        """Heatmaps for one instance per box, or for several (:meth:`forward_instances`).

        Args:
            images: (B, 3, H, W).
            lambda_vec: (B, N) one-hot instance selector; required by λ models unless
                ``instances`` is given, ignored by plain HRNet.
            instances: optional sequence of K instance indices; when given, returns
                :meth:`forward_instances` output (lets DDP wrap the multi-instance path).
            shared_trunk: with ``instances``, see :meth:`forward_instances`.

        Returns:
            (B, J, H/4, W/4), or (B, K, J, H/4, W/4) when ``instances`` is given.
        """
        if instances is not None:
            return self.forward_instances(images, instances, shared_trunk)
        if self.uses_lambda and lambda_vec is None:
            raise ValueError('this MIPNet model needs lambda_vec (B, N) or instances=[...]')
        return self._run(images, lambda_vec, 0)

    def forward_instances(self, images, instances=None, shared_trunk=True):
        """Heatmaps of K instances per box: the package's one multi-instance forward.

        With ``shared_trunk`` the λ-independent trunk runs once per image and only the rest
        once per instance; without, the whole network runs once on the batch repeated K
        times with one λ per copy (the reference way). The two agree to float tolerance,
        in train mode too: BatchNorm statistics of a K-times repeated batch equal the
        batch's. Plain HRNet (no λ block) runs once and repeats its output K times.

        Args:
            images: (B, 3, H, W).
            instances: sequence of K instance indices (default: all N).
            shared_trunk: compute the λ-independent trunk once (True) or K times (False).

        Returns:
            (B, K, J, H/4, W/4).
        """
        instances = list(range(self.num_instances)) if instances is None else list(instances)
        k, b = len(instances), images.shape[0]
        first = self.first_lambda_place
        if first is None:
            out = self._run(images, None, 0)
            return out.unsqueeze(1).expand(b, k, *out.shape[1:])
        if shared_trunk:
            x = images
            for step in self._steps()[:first + 1]:
                x = step(x)
            x = [t.unsqueeze(0).expand(k, *t.shape).reshape(k * b, *t.shape[1:]) for t in x]
            lam = one_hot_lambda(instances, b, self.num_instances, device=images.device,
                                 dtype=x[0].dtype)
            out = self._run(x, lam, first + 1)
        else:
            lam = one_hot_lambda(instances, b, self.num_instances, device=images.device)
            out = self._run(images.repeat(k, 1, 1, 1), lam, 0)
        return out.view(k, b, *out.shape[1:]).transpose(0, 1)

    def init_weights(self, pretrained=''):
        """Reference initialisation, then optional ImageNet weights filtered by layer name.

        Raises:
            FileNotFoundError: ``pretrained`` is set but does not exist.
        """
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        for m in self.modules():
            if isinstance(m, SELambdaLayer) and m.identity_start:
                m.reset_identity()
        if not pretrained:
            return
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(
                f'MODEL.PRETRAINED file not found: {pretrained}. Download the ImageNet '
                'HRNet weights or set MODEL.PRETRAINED to an empty string.')
        from mipnet.utils.checkpoint import load_state_dict_file
        state = load_state_dict_file(pretrained)
        keep_all = self.pretrained_layers[:1] == ['*']
        state = {k: v for k, v in state.items()
                 if keep_all or k.split('.')[0] in self.pretrained_layers}
        own = self.state_dict()
        state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        self.load_state_dict(state, strict=False)
        logger.info('=> loaded %d pretrained tensors from %s', len(state), pretrained)
