#include <mistral/error.h>
#include <mistral/model.h>

namespace mistral {

void Model::init(std::span<const std::byte> bytes) {
    bytes_ = bytes;
    try {
        file_ = parse_model_file(bytes_);
        weights_ = bind_weights(file_, file_.config);
    } catch (const Error& e) {
        throw with_context(e, name_);
    }
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& path, LoadOptions opts) {
    std::unique_ptr<Model> m(new Model());
    m->name_ = path.string();
    MappedFile::Options mo;
    mo.mlock = opts.mlock;
    m->map_ = MappedFile::open(path, mo);
    m->init(m->map_.bytes());
    return m;
}

std::unique_ptr<Model> Model::from_image(std::vector<std::byte> image, std::string name) {
    std::unique_ptr<Model> m(new Model());
    m->name_ = std::move(name);
    m->image_ = std::move(image);
    m->init(m->image_);
    return m;
}

}  // namespace mistral
