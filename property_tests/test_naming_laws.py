"""Naming laws (D1-D3): every derived name is an RFC 1123 label of at most 63 characters,
and distinct inputs give distinct names."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from aimcore import naming
from aimcore import resources as r
from aimcore.images import normalize_image
from property_tests.strategies import GPU_MODELS, dns_labels, image_references, model_ids, versions

#: Arbitrary text, as a user or an image label could spell a name part.
TEXT = st.text(max_size=80)
METRICS = st.sampled_from(["", *(m.value for m in r.Metric)])
PRECISIONS = st.sampled_from(["", *(p.value for p in r.Precision)])
GPUS = st.sampled_from(["", *GPU_MODELS])


@given(TEXT, TEXT, TEXT, st.integers(0, 64), TEXT, TEXT)
def test_template_names_are_labels(
    model: str, image: str, gpu: str, count: int, metric: str, prec: str
) -> None:
    """Discovered template names are valid whatever the image and labels spell."""
    assert naming.is_valid_label(naming.template_name(model, image, gpu, count, metric, prec))


@given(
    TEXT,
    st.integers(0, 15),
    st.none()
    | st.builds(
        naming.CustomTemplateKey,
        name=st.none() | TEXT,
        has_profile=st.booleans(),
        precision=st.none() | TEXT,
        metric=st.none() | TEXT,
        has_gpu=st.booleans(),
        gpu_requests=st.integers(0, 8),
        gpu_model=st.none() | TEXT,
    ),
)
def test_custom_template_names_are_labels(
    model: str, index: int, entry: naming.CustomTemplateKey | None
) -> None:
    """Custom template names are valid for any entry, named or not."""
    assert naming.is_valid_label(naming.custom_template_name(model, index, entry))


@given(st.lists(TEXT, min_size=9, max_size=9))
def test_copy_names_are_labels(parts: list[str]) -> None:
    """Fine-tuned copy names are valid for any model, version, profile and owner."""
    assert naming.is_valid_label(naming.finetuned_copy_name(*parts))


@given(TEXT, TEXT)
def test_profile_names_are_labels(model: str, profile_id: str) -> None:
    """v1alpha2 profile names are valid for any profileId an image declares."""
    assert naming.is_valid_label(naming.profile_name(model, profile_id))


@given(image_references())
def test_model_names_from_images_are_labels(image: str) -> None:
    """auto-<hash> (D2) and the reference's {name}-{tag}-{hash} are valid for every image reference."""
    assert naming.is_valid_label(naming.auto_model_name(image))
    assert naming.is_valid_label(naming.reference_model_name(image))


@given(image_references() | st.just(""), st.lists(st.tuples(model_ids(), TEXT, TEXT), min_size=1, max_size=2))
def test_custom_model_names_are_labels(base: str, sources: list[tuple[str, str, str]]) -> None:
    """{modelId}-{hash8} (D3) is valid whatever the sources hold."""
    assert naming.is_valid_label(naming.custom_model_name(base, sources))


@given(image_references())
def test_spellings_of_one_image_share_one_auto_model(image: str) -> None:
    """D2: the name hashes the normalised reference, so `qwen:1` and `docker.io/library/qwen:1` agree."""
    assert naming.auto_model_name(image) == naming.auto_model_name(normalize_image(image))


@given(image_references(), image_references())
def test_distinct_images_get_distinct_auto_models(one: str, two: str) -> None:
    """Different images never share an auto-created model."""
    assume(normalize_image(one) != normalize_image(two))
    assert naming.auto_model_name(one) != naming.auto_model_name(two)


_DEPLOYMENTS = st.tuples(image_references(), GPUS, st.integers(0, 8), METRICS, PRECISIONS)


@given(dns_labels(30), _DEPLOYMENTS, _DEPLOYMENTS)
def test_distinct_deployments_get_distinct_template_names(
    model: str, one: tuple[str, str, int, str, str], two: tuple[str, str, int, str, str]
) -> None:
    """Two deployments (image, GPU, count, metric, precision) of one model never share a template name.

    Across models only a 4-hex hash tells same-image templates apart (the reference's choice, D1),
    so that case is a matter of probability, not a law.
    """
    assume(one != two)
    assert naming.template_name(model, *one) != naming.template_name(model, *two)


@given(dns_labels(40), st.data())
def test_distinct_custom_entries_get_distinct_names(model: str, data: st.DataObject) -> None:
    """Entries at different positions of one model's customTemplates never share a name."""
    one, two = data.draw(st.integers(0, 15)), data.draw(st.integers(0, 15))
    assume(one != two)
    entries = st.none() | st.builds(
        naming.CustomTemplateKey,
        name=st.none() | dns_labels(20),
        has_profile=st.booleans(),
        precision=st.none() | PRECISIONS,
        has_gpu=st.booleans(),
        gpu_model=st.none() | GPUS,
    )
    first, second = data.draw(entries), data.draw(entries)
    assert naming.custom_template_name(model, one, first) != naming.custom_template_name(model, two, second)


_CUSTOM_SOURCES = st.tuples(
    image_references(),
    model_ids(),
    st.sampled_from(["hf://a/b", "s3://bucket/w/"]),
    st.sampled_from(["", "http://s3"]),
)


@given(_CUSTOM_SOURCES, _CUSTOM_SOURCES)
def test_distinct_inline_custom_models_get_distinct_names(
    one: tuple[str, str, str, str], two: tuple[str, str, str, str]
) -> None:
    """D3: services with different base images or sources never share an auto-created custom model."""
    assume(one != two)
    name_one = naming.custom_model_name(one[0], [one[1:]])
    name_two = naming.custom_model_name(two[0], [two[1:]])
    assert name_one != name_two


@given(dns_labels(30), st.data())
def test_distinct_profiles_get_distinct_profile_names(model: str, data: st.DataObject) -> None:
    """Profiles of one model differ by profileId, and so do their names."""
    one, two = data.draw(dns_labels(30)), data.draw(dns_labels(30))
    assume(one != two)
    assert naming.profile_name(model, one) != naming.profile_name(model, two)


#: (owner, owner namespace, version, precision, gpu): what tells two copies of one model apart.
_COPY_KEYS = st.tuples(
    dns_labels(30), st.sampled_from(["", "ml-team", "research"]), versions(), PRECISIONS, GPUS
)


@given(dns_labels(40), model_ids(), model_ids(), METRICS, _COPY_KEYS, _COPY_KEYS)
def test_copy_names_are_unique_and_valid(
    model: str,
    aim_id: str,
    model_id: str,
    metric: str,
    one: tuple[str, str, str, str, str],
    two: tuple[str, str, str, str, str],
) -> None:
    """Copies of one fine-tuned model from distinct (owner, namespace, version, precision, gpu) differ."""
    assume(one != two)

    def name(key: tuple[str, str, str, str, str]) -> str:
        owner, namespace, version, precision, gpu = key
        return naming.finetuned_copy_name(
            model, version, precision, gpu, aim_id, model_id, owner, namespace, metric
        )

    assert naming.is_valid_label(name(one))
    assert naming.is_valid_label(name(two))
    assert name(one) != name(two)
